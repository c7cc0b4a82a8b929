/**
 * Read-only queries behind the experiment analysis, on their own connection to the
 * telemetry file. Variants come from the indexed `span_experiments` table (trusted spans
 * only), aggregated in SQLite so that only per-user and per-group rows reach JavaScript.
 */
import Database from 'better-sqlite3';
import { configureReadConnection } from './migrations.js';

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
}

export interface ClickRejections {
  /** Clicks naming a request the server never served (by the variant they claim). */
  readonly unknownRequest: Record<string, number>;
  /** Clicks on a served request that claim another variant (by the request's variant). */
  readonly variantMismatch: Record<string, number>;
}

export interface DurationGroup {
  readonly variant: string;
  readonly name: string;
  readonly count: number;
  /** Log-scale buckets of the durations: `[bucket, count]`, see `DURATION_BUCKETS_PER_E`. */
  readonly buckets: [number, number][];
}

/** Log buckets per factor e: 50 gives a relative bucket width of 2%, so percentiles within 1%. */
export const DURATION_BUCKETS_PER_E = 50;

const REQUEST = 'recommendation.request';
const CLICK = 'recommendation.click';

export class AnalysisStore {
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path, { readonly: true, fileMustExist: true });
    configureReadConnection(this.db);
  }

  /** The request spans of the window (and cohort), with the experiment's variant. */
  private requestsCte(): string {
    return `requests AS (
      SELECT s.id, s.request_id, s.user_id, s.duration_ms, s.status_code, s.attributes, e.variant
      FROM spans s
      JOIN span_experiments e ON e.span_id = s.id AND e.key = @key
      WHERE s.name = '${REQUEST}' AND s.trusted = 1 AND s.start_ms >= @from AND s.start_ms < @to
        AND (@cohort IS NULL OR EXISTS (
          SELECT 1 FROM span_experiments c WHERE c.span_id = s.id AND c.key = 'user.cohort' AND c.variant = @cohort))
    )`;
  }

  private params(key: string, window: AnalysisWindow): Record<string, unknown> {
    return { key, from: window.fromMs, to: window.toMs, cohort: window.cohort ?? null, claimPath: `$."${key}"` };
  }

  /** Per (variant, user): requests, served impressions, errors, and verified clicks (once per request and content id). */
  users(key: string, window: AnalysisWindow): UserRow[] {
    return this.db
      .prepare(
        `WITH ${this.requestsCte()},
         clicks AS (
           SELECT DISTINCT c.request_id, json_extract(c.attributes, '$."content.id"') AS content
           FROM spans c JOIN requests r ON r.request_id = c.request_id
           WHERE c.name = '${CLICK}'
             AND coalesce(json_extract(c.attributes, @claimPath), r.variant) = r.variant
         ),
         per_request AS (
           SELECT r.variant, r.user_id, r.status_code,
                  coalesce(json_extract(r.attributes, '$."recommendation.count"'), 0) AS impressions,
                  (SELECT count(*) FROM clicks k WHERE k.request_id = r.request_id) AS clicks
           FROM requests r
         )
         SELECT variant, coalesce(user_id, '') AS user, count(*) AS requests, sum(impressions) AS impressions,
                sum(status_code = 2) AS errors, sum(clicks) AS clicks
         FROM per_request GROUP BY variant, user_id`,
      )
      .all(this.params(key, window)) as UserRow[];
  }

  /** Clicks that do not count, and why. */
  rejectedClicks(key: string, window: AnalysisWindow): ClickRejections {
    const params = this.params(key, window);
    const unknown = this.db
      .prepare(
        `SELECT coalesce(json_extract(c.attributes, @claimPath), 'unknown') AS variant, count(*) AS n
         FROM spans c
         WHERE c.name = '${CLICK}' AND c.start_ms >= @from AND c.start_ms < @to
           AND NOT EXISTS (SELECT 1 FROM spans r WHERE r.request_id = c.request_id AND r.name = '${REQUEST}' AND r.trusted = 1)
         GROUP BY 1`,
      )
      .all(params) as { variant: string; n: number }[];
    const mismatch = this.db
      .prepare(
        `WITH ${this.requestsCte()}
         SELECT r.variant, count(*) AS n FROM spans c JOIN requests r ON r.request_id = c.request_id
         WHERE c.name = '${CLICK}' AND json_extract(c.attributes, @claimPath) IS NOT NULL
           AND json_extract(c.attributes, @claimPath) <> r.variant
         GROUP BY r.variant`,
      )
      .all(params) as { variant: string; n: number }[];
    return {
      unknownRequest: Object.fromEntries(unknown.map((r) => [r.variant, r.n])),
      variantMismatch: Object.fromEntries(mismatch.map((r) => [r.variant, r.n])),
    };
  }

  /** Request durations per variant, sorted ascending (for exact percentiles and the rank test). */
  requestDurations(key: string, window: AnalysisWindow): Map<string, number[]> {
    const rows = this.db
      .prepare(`WITH ${this.requestsCte()} SELECT variant, duration_ms AS d FROM requests ORDER BY variant, duration_ms`)
      .raw()
      .all(this.params(key, window)) as [string, number][];
    const out = new Map<string, number[]>();
    for (const [variant, d] of rows) {
      let list = out.get(variant);
      if (list === undefined) out.set(variant, (list = []));
      list.push(d);
    }
    return out;
  }

  /** Per variant: served requests, and those for which any browser telemetry arrived. */
  delivery(key: string, window: AnalysisWindow): Map<string, { served: number; reported: number }> {
    const rows = this.db
      .prepare(
        `WITH ${this.requestsCte()}
         SELECT variant, count(*) AS served,
                sum(EXISTS (SELECT 1 FROM spans b WHERE b.request_id = requests.request_id AND b.trusted = 0)) AS reported
         FROM requests GROUP BY variant`,
      )
      .all(this.params(key, window)) as { variant: string; served: number; reported: number }[];
    return new Map(rows.map((r) => [r.variant, { served: r.served, reported: r.reported }]));
  }

  /**
   * Downstream spans (everything trusted that carries the variant, except the request and
   * server spans) per variant and name, as log-bucketed durations; and cache hits/misses.
   */
  downstream(key: string, window: AnalysisWindow): { groups: DurationGroup[]; cache: Map<string, { hits: number; misses: number }> } {
    const params = this.params(key, window);
    const rows = this.db
      .prepare(
        `SELECT e.variant, s.name, CAST(round(ln(max(s.duration_ms, 0.001)) * ${DURATION_BUCKETS_PER_E}) AS INTEGER) AS bucket, count(*) AS n
         FROM span_experiments e JOIN spans s ON s.id = e.span_id
         WHERE e.key = @key AND s.trusted = 1 AND s.kind <> 2 AND s.name <> '${REQUEST}'
           AND s.start_ms >= @from AND s.start_ms < @to
           AND (@cohort IS NULL OR EXISTS (SELECT 1 FROM span_experiments c WHERE c.span_id = s.id AND c.key = 'user.cohort' AND c.variant = @cohort))
         GROUP BY e.variant, s.name, bucket ORDER BY e.variant, s.name, bucket`,
      )
      .all(params) as { variant: string; name: string; bucket: number; n: number }[];
    const groups = new Map<string, DurationGroup>();
    for (const row of rows) {
      const id = `${row.variant}\u0000${row.name}`;
      let group = groups.get(id);
      if (group === undefined) groups.set(id, (group = { variant: row.variant, name: row.name, count: 0, buckets: [] }));
      (group as { count: number }).count += row.n;
      group.buckets.push([row.bucket, row.n]);
    }
    const cacheRows = this.db
      .prepare(
        `SELECT e.variant, sum(coalesce(json_extract(s.attributes, '$."cache.hits"'), 0)) AS hits,
                sum(coalesce(json_extract(s.attributes, '$."cache.misses"'), 0)) AS misses
         FROM span_experiments e JOIN spans s ON s.id = e.span_id
         WHERE e.key = @key AND s.trusted = 1 AND s.name LIKE 'cache.get%' AND s.start_ms >= @from AND s.start_ms < @to
           AND (@cohort IS NULL OR EXISTS (SELECT 1 FROM span_experiments c WHERE c.span_id = s.id AND c.key = 'user.cohort' AND c.variant = @cohort))
         GROUP BY e.variant`,
      )
      .all(params) as { variant: string; hits: number; misses: number }[];
    return { groups: [...groups.values()], cache: new Map(cacheRows.map((r) => [r.variant, { hits: r.hits, misses: r.misses }])) };
  }

  /**
   * Metric points of one metric in the window, cumulative streams reduced to their latest
   * point (per stream and start time), delta points as they are.
   */
  metricPoints(name: string, window: AnalysisWindow): { attributes: string; value: number | null; bucketCounts: string | null; explicitBounds: string | null }[] {
    return this.db
      .prepare(
        `WITH ranked AS (
           SELECT attributes, value, bucket_counts, explicit_bounds, temporality,
                  row_number() OVER (PARTITION BY stream, start_ns ORDER BY time_ms DESC, id DESC) AS rank
           FROM metric_points WHERE name = @name AND time_ms >= @from AND time_ms < @to
         )
         SELECT attributes, value, bucket_counts AS bucketCounts, explicit_bounds AS explicitBounds
         FROM ranked WHERE temporality <> 2 OR rank = 1`,
      )
      .all({ name, from: window.fromMs, to: window.toMs }) as { attributes: string; value: number | null; bucketCounts: string | null; explicitBounds: string | null }[];
  }

  close(): void {
    this.db.close();
  }
}
