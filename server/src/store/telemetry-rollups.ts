/**
 * The rollups the analysis reads instead of scanning spans and points: per minute and variant,
 * downstream span durations in log buckets with cache hits, and delta metric sums and
 * histograms. Cells are gathered in memory through a transaction and written once per cell.
 */
import type Database from 'better-sqlite3';
import { ATTR, METRIC } from '../../../common/src/semconv.js';
import type { MetricPointRecord, SpanRecord } from '../core/telemetry-records.js';
import { nanosToMillis } from '../core/telemetry-records.js';

/**
 * The metrics browsers report. The analysis counts a browser's points only for these: every
 * other metric it reads (impressions, latency) is the server's own, and a point a browser
 * posts under such a name is kept for inspection but never counted, as its span claims are.
 */
export const CLIENT_REPORTED_METRICS: ReadonlySet<string> = new Set([METRIC.CLICK_THROUGH]);

/** Log buckets per factor e of the duration rollup: 50 gives 2% wide buckets (percentiles within 1%). */
export const DURATION_BUCKETS_PER_E = 50;
export const MINUTE_MS = 60_000;
/** OTLP SpanKind SERVER: server spans are the request itself, not downstream work. */
const SERVER_KIND = 2;

/** The log bucket of a duration, as the rollup stores it. */
export function durationBucket(durationMs: number): number {
  return Math.round(Math.log(Math.max(durationMs, 0.001)) * DURATION_BUCKETS_PER_E);
}

/** The rollup cells of one connection's write transaction. */
export class Rollups {
  private readonly upsertRollup: Database.Statement;
  private readonly readMetricRollup: Database.Statement;
  private readonly writeMetricRollup: Database.Statement;
  /** Downstream span rollup cells of the transaction being written, keyed by the cell. */
  private readonly pendingRollup = new Map<string, { cell: readonly [string, string, string, string, number, number]; count: number; hits: number; misses: number }>();
  /** Metric rollup cells of the transaction being written, keyed by the cell. */
  private readonly pendingMetricRollup = new Map<string, { cell: readonly [string, string, string, number, string]; total: number; counts: number[] | null }>();

  /** `requestService`: see `TelemetryStoreOptions.requestService`. */
  constructor(
    db: Database.Database,
    private readonly requestService: string | undefined,
    /** Whether an untrusted point's key and variant are an experiment's (see `TelemetryStoreOptions.isKnownVariant`). */
    private readonly isKnownVariant: (key: string, variant: string) => boolean,
  ) {
    this.upsertRollup = db.prepare(`
      INSERT INTO span_rollup VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT DO UPDATE SET count = count + excluded.count, cache_hits = cache_hits + excluded.cache_hits, cache_misses = cache_misses + excluded.cache_misses`);
    this.readMetricRollup = db.prepare('SELECT total, bucket_counts AS bucketCounts FROM metric_rollup WHERE name = ? AND key = ? AND variant = ? AND minute = ? AND explicit_bounds IS ?');
    this.writeMetricRollup = db.prepare('INSERT OR REPLACE INTO metric_rollup VALUES (?, ?, ?, ?, ?, ?, ?)');
  }

  /** Starts a transaction's cells afresh. */
  begin(): void {
    this.pendingRollup.clear();
    this.pendingMetricRollup.clear();
  }

  /** The downstream rollup of a trusted span that carries variants (not the request span). */
  addDownstreamSpan(span: SpanRecord, variants: readonly [string, string][]): void {
    // A forced (QA) visitor's downstream work is not its variant's: it was not randomised.
    if (span.attributes[ATTR.EXPERIMENT_FORCED] === true) return;
    const startMs = nanosToMillis(span.startTimeUnixNano);
    const durationMs = nanosToMillis(span.endTimeUnixNano) - startMs;
    const cohort = span.attributes[ATTR.USER_COHORT];
    if (span.kind === SERVER_KIND && (this.requestService === undefined || span.service === this.requestService)) return;
    const hits = span.attributes[ATTR.CACHE_HITS];
    const misses = span.attributes[ATTR.CACHE_MISSES];
    const minute = Math.floor(startMs / MINUTE_MS);
    const bucket = durationBucket(durationMs);
    for (const [key, variant] of variants) {
      if (key === ATTR.USER_COHORT) continue;
      const cell = [key, variant, typeof cohort === 'string' ? cohort : '', span.name, minute, bucket] as const;
      const id = cell.join('\u0000');
      const pending = this.pendingRollup.get(id);
      if (pending === undefined) this.pendingRollup.set(id, { cell, count: 1, hits: typeof hits === 'number' ? hits : 0, misses: typeof misses === 'number' ? misses : 0 });
      else {
        pending.count += 1;
        pending.hits += typeof hits === 'number' ? hits : 0;
        pending.misses += typeof misses === 'number' ? misses : 0;
      }
    }
  }

  /**
   * Delta points are also added into a per-minute rollup per experiment variant, so the
   * analysis never scans points (cumulative points are read from the points themselves).
   */
  addPoint(point: MetricPointRecord): void {
    if (point.temporality !== 1 || point.kind === 'gauge') return;
    if (!point.trusted && !CLIENT_REPORTED_METRICS.has(point.name)) return;
    const minute = Math.floor(nanosToMillis(point.timeUnixNano) / MINUTE_MS);
    // Part of the primary key, so never NULL: sums have no bounds.
    const bounds = point.explicitBounds === null ? '' : JSON.stringify(point.explicitBounds);
    const value = point.kind === 'histogram' ? (point.count ?? 0) : (point.value ?? 0);
    for (const key in point.attributes) {
      const variant = point.attributes[key];
      if (typeof variant !== 'string' || !key.startsWith(ATTR.EXPERIMENT_PREFIX)) continue;
      // A browser names its points' attributes: only an experiment's variants are summed from
      // them (nothing else is read, and retention trims the rollup by age alone).
      if (!point.trusted && !this.isKnownVariant(key, variant)) continue;
      const cell = [point.name, key, variant, minute, bounds] as const;
      const id = cell.join('\u0000');
      const pending = this.pendingMetricRollup.get(id);
      if (pending === undefined) this.pendingMetricRollup.set(id, { cell, total: value, counts: point.bucketCounts === null ? null : [...point.bucketCounts] });
      else {
        pending.total += value;
        if (pending.counts !== null && point.bucketCounts !== null) pending.counts = pending.counts.map((c, i) => c + (point.bucketCounts![i] ?? 0));
      }
    }
  }

  /** Adds the transaction's metric rollup cells to the stored ones: one read and one write per cell, however many points fell in it. */
  private flushMetricRollup(): void {
    for (const { cell, total, counts } of this.pendingMetricRollup.values()) {
      const existing = this.readMetricRollup.get(...cell) as { total: number; bucketCounts: string | null } | undefined;
      let merged = counts;
      if (existing !== undefined && merged !== null && existing.bucketCounts !== null) {
        const previous = JSON.parse(existing.bucketCounts) as number[];
        merged = merged.map((c, i) => c + (previous[i] ?? 0));
      }
      const [name, key, variant, minute, bounds] = cell;
      this.writeMetricRollup.run(name, key, variant, minute, (existing?.total ?? 0) + total, merged === null ? null : JSON.stringify(merged), bounds);
    }
    this.pendingMetricRollup.clear();
  }

  /** Writes the transaction's rollup cells: one upsert per cell, however many spans fell in it. */
  private flushSpanRollup(): void {
    for (const { cell, count, hits, misses } of this.pendingRollup.values()) this.upsertRollup.run(...cell, count, hits, misses);
    this.pendingRollup.clear();
  }

  /** Writes the transaction's cells. */
  flush(): void {
    this.flushSpanRollup();
    this.flushMetricRollup();
  }
}
