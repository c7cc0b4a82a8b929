/**
 * Read-only queries behind the experiment analysis, on their own connection to the
 * telemetry file. They read the narrow analysis tables the store fills at ingest (requests,
 * their variants, browser events, the downstream rollup), aggregated in SQLite so that only
 * per-user and per-group rows reach JavaScript.
 */
import Database from 'better-sqlite3';
import { downstreamGroups, type DownstreamCell } from '../analysis/analysis-source.js';
import { configureReadConnection } from './migrations.js';
import { CLIENT_REPORTED_METRICS } from './telemetry-store.js';

/** The slice of data an analysis reads. */
export interface AnalysisWindow {
  /** Inclusive lower bound, ms since the epoch. */
  readonly fromMs: number;
  /** Exclusive upper bound, ms since the epoch. */
  readonly toMs: number;
  /** Only visitors of this `user.cohort`, when set. */
  readonly cohort?: string;
}

export interface UserRow {
  readonly variant: string;
  readonly user: string;
  readonly requests: number;
  readonly impressions: number;
  readonly errors: number;
  readonly clicks: number;
  /** Requests for which any browser telemetry arrived. */
  readonly reported: number;
  /** Clicks on this user's requests that claimed another variant. */
  readonly mismatched: number;
  /** Clicks on this user's requests that broke an attribution rule (content not served, outside the click window). */
  readonly invalid: number;
  /** Σ of this user's request durations, ms (the user-level latency mean). */
  readonly durationMsSum: number;
  /** This user's request durations, ms (user-level percentile guardrails). */
  readonly durationsMs: number[];
  /** When the user was first served in the experiment, ms since the epoch. */
  readonly firstExposureMs: number;
  /** Cache hits and lookups of this user's requests (as their request spans report them). */
  readonly cacheHits: number;
  readonly cacheLookups: number;
}

/** A population apart from the randomised one: visitors in no running experiment, or forced for QA. */
export interface PopulationRow {
  readonly population: 'holdout' | 'forced';
  readonly users: number;
  readonly requests: number;
  readonly impressions: number;
  readonly clicks: number;
}

/** The window in whole minutes, as the rollups store it. */
/**
 * Parameters of the metric queries. `anyone` is 1 when browsers' points of the metric count
 * (see `CLIENT_REPORTED_METRICS`), else 0: only the server's own.
 */
function metricParams(name: string, key: string, window: AnalysisWindow) {
  return { name, key, claimPath: `$."${key}"`, from: window.fromMs, to: window.toMs, anyone: CLIENT_REPORTED_METRICS.has(name) ? 1 : 0, ...minutes(window) };
}

function minutes(window: AnalysisWindow): { fromMinute: number; toMinute: number } {
  return { fromMinute: Math.floor(window.fromMs / MINUTE_MS), toMinute: Math.ceil(Math.min(window.toMs, Number.MAX_SAFE_INTEGER) / MINUTE_MS) };
}

export interface DurationGroup {
  readonly variant: string;
  readonly name: string;
  readonly count: number;
  /** Log-scale buckets of the durations: `[bucket, count]`, see `DURATION_BUCKETS_PER_E`. */
  readonly buckets: [number, number][];
}

export { DURATION_BUCKETS_PER_E } from './telemetry-store.js';

const MINUTE_MS = 60_000;

export class AnalysisStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path, { readonly: true, fileMustExist: true });
    configureReadConnection(this.db);
  }

  /** Runs `read` inside one read transaction: every query in it sees the same snapshot of the file. */
  snapshot<T>(read: () => T): T {
    return this.db.transaction(read)();
  }

  private params(key: string, window: AnalysisWindow): Record<string, unknown> {
    return { key, from: window.fromMs, to: window.toMs, cohort: window.cohort ?? null, claimPath: `$."${key}"` };
  }

  /** The served requests of the window (and cohort) for an experiment key. */
  private static readonly WINDOW = `key = @key AND start_ms >= @from AND start_ms < @to AND (@cohort IS NULL OR cohort = @cohort)`;

  /**
   * Per (variant, user): requests, served impressions, errors, verified clicks (once per
   * request and content id, counted at ingest), requests with any browser telemetry, and
   * clicks that claimed another variant, and the request durations (their sum, and the list).
   * A user is in the window when their first exposure (first served request in the
   * experiment) is, and then counts their activity up to the window's end: selecting users by
   * activity inside the window would drop those merely inactive in it, which depends on the
   * treatment. The primary key's order makes this a single scan.
   */
  users(key: string, window: AnalysisWindow): UserRow[] {
    return this.db
      .prepare(
        `SELECT variant, user_id AS user, count(*) AS requests, sum(impressions) AS impressions, sum(error) AS errors,
                sum(clicks) AS clicks, sum(browser_events > 0) AS reported, sum(mismatched_clicks) AS mismatched,
                sum(invalid_clicks) AS invalid, sum(duration_ms) AS durationMsSum, json_group_array(duration_ms) AS durationsMs,
                min(start_ms) AS firstExposureMs, sum(cache_hits) AS cacheHits, sum(cache_hits + cache_misses) AS cacheLookups
         FROM experiment_requests WHERE key = @key AND start_ms < @to AND (@cohort IS NULL OR cohort = @cohort)
         GROUP BY variant, user_id HAVING min(start_ms) >= @from`,
      )
      .all(this.params(key, window))
      .map((row) => {
        const r = row as Omit<UserRow, 'durationsMs'> & { durationsMs: string };
        return { ...r, durationsMs: JSON.parse(r.durationsMs) as number[] };
      });
  }

  /** The served requests outside the randomised population, by population (see `request-attribution.ts`). */
  populations(window: AnalysisWindow): PopulationRow[] {
    return this.db
      .prepare(
        `SELECT population, count(DISTINCT user_id) AS users, count(*) AS requests, sum(served_count) AS impressions, sum(clicks) AS clicks
         FROM served_requests
         WHERE population <> 'experiment' AND start_ms >= @from AND start_ms < @to AND (@cohort IS NULL OR cohort = @cohort)
         GROUP BY population`,
      )
      .all({ from: window.fromMs, to: window.toMs, cohort: window.cohort ?? null }) as PopulationRow[];
  }

  /** Clicks naming no request the server served, by the variant they claim. */
  unknownRequestClicks(key: string, window: AnalysisWindow): Record<string, number> {
    const rows = this.db
      .prepare(
        `SELECT coalesce(json_extract(e.claims, @claimPath), 'unknown') AS variant, count(*) AS n
         FROM unmatched_events e
         WHERE e.click = 1 AND e.start_ms >= @from AND e.start_ms < @to
         GROUP BY 1`,
      )
      .all(this.params(key, window)) as { variant: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.variant, r.n]));
  }

  /** Request durations of each variant, sorted ascending (for exact percentiles and the rank test). */
  requestDurations(key: string, variants: readonly string[], window: AnalysisWindow): Map<string, Float64Array> {
    const statement = this.db.prepare(`SELECT duration_ms FROM experiment_requests WHERE variant = @variant AND ${AnalysisStore.WINDOW}`).pluck();
    // One primary-key range per variant; typed arrays sort numerically, and fast.
    return new Map(variants.map((variant) => [variant, Float64Array.from(statement.all({ ...this.params(key, window), variant }) as number[]).sort()]));
  }

  /**
   * Downstream spans (everything trusted that carries the variant, except the request and
   * server spans) per variant and name, as log-bucketed durations; and cache hits/misses.
   * Read from the per-minute rollup, so the window is applied to the minute.
   */
  downstream(key: string, window: AnalysisWindow): { groups: DurationGroup[]; cache: Map<string, { hits: number; misses: number }> } {
    const params = { key, ...minutes(window), cohort: window.cohort ?? null };
    const rows = this.db
      .prepare(
        `SELECT variant, name, bucket, sum(count) AS n, sum(cache_hits) AS hits, sum(cache_misses) AS misses
         FROM span_rollup
         WHERE key = @key AND minute >= @fromMinute AND minute < @toMinute AND (@cohort IS NULL OR cohort = @cohort)
         GROUP BY variant, name, bucket ORDER BY variant, name, bucket`,
      )
      .all(params) as DownstreamCell[];
    return downstreamGroups(rows);
  }

  /**
   * Σ of a monotonic sum per variant of an experiment key: delta points from the per-minute
   * rollup; a cumulative stream (stream and start time) contributes its latest point in the
   * window.
   */
  metricSums(name: string, key: string, window: AnalysisWindow): Map<string, number> {
    const params = metricParams(name, key, window);
    const rows = this.db
      .prepare(
        `SELECT variant, sum(total) AS total FROM (
           SELECT variant, total FROM metric_rollup
           WHERE name = @name AND key = @key AND minute >= @fromMinute AND minute < @toMinute
           UNION ALL
           SELECT variant, value FROM (
             SELECT json_extract(attributes, @claimPath) AS variant, value,
                    row_number() OVER (PARTITION BY stream, start_ns ORDER BY time_ms DESC, id DESC) AS rank
             FROM metric_points WHERE name = @name AND temporality = 2 AND time_ms >= @from AND time_ms < @to AND (trusted = 1 OR @anyone = 1)
           ) WHERE rank = 1
         ) WHERE variant IS NOT NULL GROUP BY variant`,
      )
      .all(params) as { variant: string; total: number }[];
    return new Map(rows.map((r) => [r.variant, r.total]));
  }

  /** Histogram bucket counts per variant: rolled-up delta minutes, and the latest point of each cumulative stream. */
  histogramPoints(name: string, key: string, window: AnalysisWindow): { variant: string; bucketCounts: string; explicitBounds: string }[] {
    const params = metricParams(name, key, window);
    return this.db
      .prepare(
        `SELECT variant, bucket_counts AS bucketCounts, explicit_bounds AS explicitBounds FROM metric_rollup
         WHERE name = @name AND key = @key AND minute >= @fromMinute AND minute < @toMinute AND bucket_counts IS NOT NULL
         UNION ALL
         SELECT variant, bucket_counts, explicit_bounds FROM (
           SELECT json_extract(attributes, @claimPath) AS variant, bucket_counts, explicit_bounds,
                  row_number() OVER (PARTITION BY stream, start_ns ORDER BY time_ms DESC, id DESC) AS rank
           FROM metric_points WHERE name = @name AND kind = 'histogram' AND temporality = 2 AND time_ms >= @from AND time_ms < @to AND (trusted = 1 OR @anyone = 1)
         ) WHERE rank = 1 AND variant IS NOT NULL AND bucket_counts IS NOT NULL`,
      )
      .all(params) as { variant: string; bucketCounts: string; explicitBounds: string }[];
  }

  close(): void {
    this.db.close();
  }
}
