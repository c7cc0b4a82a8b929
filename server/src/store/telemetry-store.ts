import Database from 'better-sqlite3';
import { ATTR, SPAN } from '../../../common/src/semconv.js';
import type { StoredMetricPoint, StoredSpan } from '../../../common/src/wire-types.js';
import type { MetricPointRecord, SpanRecord } from '../core/telemetry-records.js';
import { nanosToMillis } from '../core/telemetry-records.js';
import { AttributionWrites } from './attribution-writes.js';
import { configureConnection, migrate } from './migrations.js';
import { RowCounts } from './row-counts.js';
import { SpanReads, type SpanCursor, type SpanQuery } from './span-reads.js';
import { Rollups } from './telemetry-rollups.js';
import { TelemetryRetention } from './telemetry-retention.js';
import { MULTI_ROW, newRow, preparePoints, prepareSpans, SPAN_VALUES, valuesList, type NewRow, type PreparedPoint, type PreparedSpan } from './telemetry-rows.js';
import { TELEMETRY_MIGRATIONS } from './telemetry-schema.js';
import { TraceSegments } from './trace-segments.js';
import { WalMaintenance } from './wal-maintenance.js';

export type { StoredMetricPoint, StoredSpan } from '../../../common/src/wire-types.js';
export { CLIENT_REPORTED_METRICS, DURATION_BUCKETS_PER_E, durationBucket } from './telemetry-rollups.js';
export { preparePoints, prepareSpans, type PreparedPoint, type PreparedSpan } from './telemetry-rows.js';
export { DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT, type SpanCursor, type SpanQuery } from './span-reads.js';

const REQUEST_SPAN = SPAN.REQUEST;

/** How the store is opened. */
export interface TelemetryStoreOptions {
  /** The SQLite file. */
  readonly path: string;
  /** Attribute keys whose string values on trusted spans are variants for the analysis tables. */
  readonly isExperimentKey?: (key: string) => boolean;
  /** Whether an untrusted metric point's `key` and `variant` are an experiment's: only those are rolled up from untrusted points (default: any). */
  readonly isKnownVariant?: (key: string, variant: string) => boolean;
  /**
   * `service.name` of the recommendation server: its SERVER spans are the requests themselves
   * (their latency is the request's), so they stay out of the downstream rollup. Every other
   * service's spans, server spans included (the feature store's one span per call), are
   * downstream work. Without it, no server span is rolled up.
   */
  readonly requestService?: string;
}

const anyVariant = (): boolean => true;
const defaultExperimentKey = (key: string): boolean => key.startsWith(ATTR.EXPERIMENT_PREFIX) || key === ATTR.USER_COHORT;

/**
 * The embedded SQLite store of spans and metric points. This file holds the write path (one
 * transaction per group commit) and the store's public surface; each idea it relies on has a
 * file of its own: the schema (`telemetry-schema.ts`), row building (`telemetry-rows.ts`), the
 * segments' Bloom filters (`trace-segments.ts`), served requests and attribution writes
 * (`attribution-writes.ts`), rollups (`telemetry-rollups.ts`), reads (`span-reads.ts`),
 * retention (`telemetry-retention.ts`) and the WAL's upkeep (`wal-maintenance.ts`).
 */
export class TelemetryStore {
  private readonly db: Database.Database;
  private readonly insertSpan: Database.Statement;
  private readonly insertSpanRows: Database.Statement;
  private readonly insertPoint: Database.Statement;
  private readonly lastRow: Database.Statement;
  private readonly rowsAfter: Database.Statement;
  private readonly isExperimentKey: (key: string) => boolean;
  private readonly segments: TraceSegments;
  private readonly attribution: AttributionWrites;
  private readonly rollups: Rollups;
  private readonly reads: SpanReads;
  private readonly retention: TelemetryRetention;
  private readonly wal: WalMaintenance;
  private readonly counts: RowCounts;
  private readonly writeInTransaction: (spans: readonly PreparedSpan[], points: readonly PreparedPoint[]) => number;

  constructor(options: TelemetryStoreOptions) {
    this.db = new Database(options.path);
    configureConnection(this.db);
    migrate(this.db, TELEMETRY_MIGRATIONS);
    this.isExperimentKey = options.isExperimentKey ?? defaultExperimentKey;
    this.segments = new TraceSegments(this.db);
    this.attribution = new AttributionWrites(this.db, this.isExperimentKey);
    this.rollups = new Rollups(this.db, options.requestService, options.isKnownVariant ?? anyVariant);
    this.reads = new SpanReads(this.db, this.segments);
    this.counts = new RowCounts(this.db);
    this.retention = new TelemetryRetention(this.db, this.segments, this.counts);
    this.wal = new WalMaintenance(this.db);
    // Positional parameters: binding an object per row costs measurably at 100k spans/s.
    this.insertSpan = this.db.prepare(`
      INSERT OR IGNORE INTO spans (trace_id, span_id, parent_span_id, name, kind, service, scope,
        start_ns, end_ns, start_ms, duration_ms, status_code, status_message, trusted, request_id,
        user_id, attributes, events, links)
      ${valuesList(SPAN_VALUES, 1)}`);
    this.insertPoint = this.db.prepare(`
      INSERT OR IGNORE INTO metric_points (service, scope, name, unit, kind, temporality, monotonic,
        attributes, start_ns, time_ns, time_ms, value, count, sum, bucket_counts, explicit_bounds, trusted, stream)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.insertSpanRows = this.db.prepare(`
      INSERT OR IGNORE INTO spans (trace_id, span_id, parent_span_id, name, kind, service, scope,
        start_ns, end_ns, start_ms, duration_ms, status_code, status_message, trusted, request_id,
        user_id, attributes, events, links)
      ${valuesList(SPAN_VALUES, MULTI_ROW)}`);
    this.lastRow = this.db.prepare('SELECT coalesce(max(id), 0) FROM spans').pluck();
    this.rowsAfter = this.db.prepare('SELECT id, trace_id, span_id, request_id FROM spans WHERE id > ? ORDER BY id').raw();
    this.writeInTransaction = this.db.transaction((spans: readonly PreparedSpan[], points: readonly PreparedPoint[]) => {
      const lastRow = this.lastRow.get() as number;
      this.attribution.begin(Date.now());
      this.rollups.begin();
      // Browser spans first, MULTI_ROW at a time (one statement per chunk instead of per span),
      // then the server's own, each with its analysis rows; rows are numbered in this order.
      const untrusted = spans.filter((prepared) => !prepared.span.trusted);
      const ordered = [...untrusted, ...spans.filter((prepared) => prepared.span.trusted)];
      let i = 0;
      let inserted = 0;
      for (; i + MULTI_ROW <= untrusted.length; i += MULTI_ROW) {
        const params: unknown[] = [];
        for (let j = i; j < i + MULTI_ROW; j += 1) params.push(...untrusted[j]!.row);
        inserted += this.insertSpanRows.run(params).changes;
      }
      for (; i < ordered.length; i += 1) inserted += this.writeSpan(ordered[i]!);
      this.attribution.countEarlierEvents();
      // When every span was new, row ids are the next ones in order and need not be read back.
      const added = this.indexNewRows(
        inserted === ordered.length ? ordered.map((prepared, k) => newRow(lastRow + 1 + k, prepared.span)) : this.rowsAfterWith(lastRow, ordered.map((prepared) => prepared.span)),
      );
      let addedPoints = 0;
      for (const point of points) addedPoints += this.writePoint(point);
      this.rollups.flush();
      this.counts.add('spans', added);
      this.counts.add('metric_points', addedPoints);
      return added;
    });
    // Rows copied by the version-5 migration (or left by a build without filters) get theirs,
    // once: the write lock is only taken, and the question asked again under it, when needed.
    const unfiltered = () => (this.lastRow.get() as number) > 0 && this.segments.isEmpty();
    if (unfiltered()) {
      this.db.transaction(() => {
        if (unfiltered()) this.indexNewRows(this.rowsAfterWith(0, []));
      }).immediate();
    }
  }

  /**
   * The rows stored after `afterRow`, each with its span among `ordered` (the spans just
   * inserted, in insertion order). A span that was already stored (a retry) got no row, so
   * walking both in order tells new spans from retried ones.
   */
  private rowsAfterWith(afterRow: number, ordered: readonly SpanRecord[]): NewRow[] {
    const rows: NewRow[] = [];
    let next = 0;
    for (const [row, traceId, spanId, requestId] of this.rowsAfter.iterate(afterRow) as IterableIterator<[number, string, string, string | null]>) {
      while (next < ordered.length && (ordered[next]!.traceId !== traceId || ordered[next]!.spanId !== spanId)) next += 1;
      rows.push({ row, traceId, requestId, span: next < ordered.length ? ordered[next++]! : undefined });
    }
    return rows;
  }

  /**
   * Puts new rows into their segments' Bloom filters and counts the new browser spans
   * against the requests they name (a retry's event was counted when it first came).
   * Returns how many rows are new.
   */
  private indexNewRows(rows: readonly NewRow[]): number {
    for (const { row, span } of rows) if (span !== undefined && !span.trusted) this.attribution.writeBrowserEvent(span, row);
    this.attribution.flushUnmatched();
    this.segments.add(rows);
    return rows.length;
  }

  private writeSpan({ span, row }: PreparedSpan): number {
    const result = this.insertSpan.run(row);
    // Variants are read from the server's own spans; a browser's claim is kept in the JSON
    // (and its browser event) but not indexed as a variant.
    if (result.changes === 0 || !span.trusted) return result.changes;
    if (span.name === REQUEST_SPAN) {
      this.attribution.writeServedRequest(span, result.lastInsertRowid);
      return 1;
    }
    const variants: [string, string][] = [];
    for (const key in span.attributes) {
      const value = span.attributes[key];
      if (typeof value === 'string' && this.isExperimentKey(key)) variants.push([key, value]);
    }
    if (variants.length > 0) this.rollups.addDownstreamSpan(span, variants);
    return 1;
  }

  /** Returns 1 when the point is new, 0 for one already stored. */
  private writePoint({ point, attributes, stream }: PreparedPoint): number {
    const inserted = this.insertPoint.run(
      point.service,
      point.scope,
      point.name,
      point.unit,
      point.kind,
      point.temporality,
      point.monotonic ? 1 : 0,
      attributes,
      point.startTimeUnixNano,
      point.timeUnixNano,
      nanosToMillis(point.timeUnixNano),
      point.value,
      point.count,
      point.sum,
      point.bucketCounts === null ? null : JSON.stringify(point.bucketCounts),
      point.explicitBounds === null ? null : JSON.stringify(point.explicitBounds),
      point.trusted ? 1 : 0,
      stream,
    );
    // A point already stored (a resent batch) is not added to the rollup again.
    if (inserted.changes > 0) this.rollups.addPoint(point);
    return inserted.changes;
  }

  /**
   * Stores spans and metric points in one transaction: all or nothing, committed when this
   * returns. A span already stored (same trace and span id, and the same start time, as a
   * retried export sends it) is skipped, so retried exports are stored once. Returns how
   * many spans were new.
   */
  write(spans: readonly SpanRecord[], points: readonly MetricPointRecord[]): number {
    return this.writeInTransaction(prepareSpans(spans), preparePoints(points));
  }

  /** `write` with rows made beforehand by `prepareSpans` and `preparePoints`. */
  writePrepared(spans: readonly PreparedSpan[], points: readonly PreparedPoint[]): number {
    return this.writeInTransaction(spans, points);
  }

  /** Stores spans; see `write`. */
  addSpans(spans: readonly SpanRecord[]): number {
    return this.write(spans, []);
  }

  /** Stores metric points; see `write`. */
  addMetricPoints(points: readonly MetricPointRecord[]): void {
    this.write([], points);
  }

  /** How many spans are stored. */
  spanCount(): number {
    return this.retention.spanCount();
  }

  /** Deletes spans and points older than `cutoffMs` (ms since the epoch), at most `batch` spans. Returns how many spans went. */
  deleteOlderThan(cutoffMs: number, batch: number): number {
    return this.retention.deleteOlderThan(cutoffMs, batch);
  }

  /** How many spans are stored beyond `maxSpans` (a read: it needs no write lock). */
  spansBeyond(maxSpans: number): number {
    return this.retention.spansBeyond(maxSpans);
  }

  /** Deletes `count` spans, the browser's first, by arrival (see `TelemetryRetention.deleteOldestSpans`). Returns how many went. */
  deleteOldestSpans(count: number): number {
    return this.retention.deleteOldestSpans(count);
  }

  /** How many metric points are stored beyond `maxPoints` (a read). */
  pointsBeyond(maxPoints: number): number {
    return this.retention.pointsBeyond(maxPoints);
  }

  /** Deletes `count` metric points, the browser's first, by arrival. Returns how many went. */
  deleteOldestPoints(count: number): number {
    return this.retention.deleteOldestPoints(count);
  }

  /** Stops this connection from checkpointing at commit; see `checkpoint`. */
  disableAutoCheckpoint(): void {
    this.wal.disableAutoCheckpoint();
  }

  /** Copies committed WAL pages into the database without blocking writers (PASSIVE); returns how many pages the WAL holds. */
  checkpoint(): number {
    return this.wal.checkpoint();
  }

  /** Copies the rest of the WAL and has the next commit start it over (see `WalMaintenance.restartWal`); false when a reader held it back. */
  restartWal(busyTimeoutMs: number): boolean {
    return this.wal.restartWal(busyTimeoutMs);
  }

  /** The size a WAL file is truncated to when it starts over (`PRAGMA journal_size_limit`). */
  limitWalSize(bytes: number): void {
    this.wal.limitWalSize(bytes);
  }

  /** `PRAGMA integrity_check`: "ok" for a sound file. */
  integrityCheck(): string {
    return this.wal.integrityCheck();
  }

  /** Every stored span of a trace, in start order (see `SpanReads.getTrace`). */
  getTrace(traceId: string): StoredSpan[] {
    return this.reads.getTrace(traceId);
  }

  /** The newest spans matching a name and/or a recommendation request id (see `SpanReads.findSpans`). */
  findSpans(query: SpanQuery): StoredSpan[] {
    return this.reads.findSpans(query);
  }

  /** The segments that may hold spans of a trace (their Bloom filters say so), newest first. */
  traceSegments(traceId: string): number[] {
    return this.reads.traceSegments(traceId);
  }

  /** `[row id, start ms]` of a trace's spans in one segment (see `SpanReads.traceSpanKeys`). */
  traceSpanKeys(traceId: string, segment: number): [number, number][] {
    return this.reads.traceSpanKeys(traceId, segment);
  }

  /** Stored spans by row id, in the order given (ids no longer stored are skipped). */
  spansByIds(ids: readonly number[]): StoredSpan[] {
    return this.reads.spansByIds(ids);
  }

  /** One page of `findSpans`, newest first, after `cursor` (see `SpanReads.findSpansPage`). */
  findSpansPage(query: SpanQuery & { cursor?: SpanCursor; scanBudget: number }): { spans: StoredSpan[]; next: SpanCursor | null } {
    return this.reads.findSpansPage(query);
  }

  /** The newest points of a metric. */
  findMetricPoints(name: string, limit?: number): StoredMetricPoint[] {
    return this.reads.findMetricPoints(name, limit);
  }

  close(): void {
    this.db.close();
  }
}
