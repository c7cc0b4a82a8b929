/**
 * The analysis source of the ClickHouse exporter's tables (`otel_traces`, `otel_metrics_sum`,
 * `otel_metrics_histogram`), written by an OpenTelemetry Collector or by the endpoint itself in
 * `chdb:` mode. The attribution is ClickHouse SQL at query time, over the exporter's own tables:
 * nothing is created beside them, so the analysis works on any existing exporter database and
 * the Collector's writes are never slowed by views. Spans count as the service's only when their
 * resource says `variant_lens.source = service` (set by the collection endpoint); everything else
 * is a browser's claim.
 *
 * The SQL reproduces the SQLite store's figures (see `analysis-store.ts` and the attribution at
 * ingest in `telemetry-store.ts`) number for number: times in ms are computed from nanoseconds the
 * way `nanosToMillis` does, durations are end minus start in those ms, buckets `Math.round`.
 * Where the SQLite store depends on arrival order, this reads order-free: a click claiming
 * another variant is a mismatch only when no click on the same (request, content) matched.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { ExperimentDefinition } from '../../core/experiment-config.js';
import { SOURCE_ATTRIBUTE, SOURCE_SERVICE } from '../../core/otlp-encode.js';
import { EXPORTER_TABLES, quoteIdentifier } from '../../clickhouse/exporter-schema.js';
import { DURATION_BUCKETS_PER_E } from '../../store/analysis-store.js';
import { CLIENT_REPORTED_METRICS } from '../../store/telemetry-store.js';
import type { AnalysisData, AnalysisSource, AnalysisWindow } from '../analysis-source.js';

const REQUEST_SPAN = 'recommendation.request';
const CLICK_SPAN = 'recommendation.click';
const IMPRESSIONS_METRIC = 'recommendation.impressions';
const CLICK_THROUGH_METRIC = 'recommendation.click_through';
const LATENCY_METRIC = 'recommendation.latency';
const MINUTE_MS = 60_000;

/** Configuration of the ClickHouse analysis source. */
export interface ClickHouseAnalysisConfig {
  /** Database of the exporter's tables. */
  readonly database: string;
  /** `service.name` of the recommendation server: its SERVER spans are the requests, not downstream work. */
  readonly requestService?: string;
}

/** Nanoseconds (Int64) to ms as `nanosToMillis` computes them: whole ms plus the remainder, in doubles. */
const ms = (nanos: string) => `(toFloat64(intDiv(${nanos}, 1000000)) + toFloat64(${nanos} % 1000000) / 1e6)`;
const START_NS = 'toUnixTimestamp64Nano(Timestamp)';
const START_MS = ms(START_NS);
const END_MS = ms(`(${START_NS} + toInt64(Duration))`);
const TRUSTED = `ResourceAttributes['${SOURCE_ATTRIBUTE}'] = '${SOURCE_SERVICE}'`;

interface UserRow {
  variant: string;
  user: string;
  requests: string;
  impressions: string;
  errors: string;
  clicks: string;
  reported: string;
  mismatched: string;
}

export class ClickHouseAnalysisSource implements AnalysisSource {
  private readonly db: string;
  private closed = false;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly config: ClickHouseAnalysisConfig,
    /** Whether closing the source closes the client (false when the writer shares it). */
    private readonly ownsClient = true,
  ) {
    this.db = quoteIdentifier(config.database);
  }

  private async rows<T>(query: string, params: Record<string, unknown>): Promise<T[]> {
    const result = await this.client.query({ query, query_params: params, format: 'JSONEachRow' });
    return result.json<T>();
  }

  private params(key: string, window: AnalysisWindow): Record<string, unknown> {
    return {
      key,
      from: window.fromMs,
      to: Math.min(window.toMs, Number.MAX_SAFE_INTEGER),
      fromMinute: Math.floor(window.fromMs / MINUTE_MS),
      toMinute: Math.ceil(Math.min(window.toMs, Number.MAX_SAFE_INTEGER) / MINUTE_MS),
      hasCohort: window.cohort === undefined ? 0 : 1,
      cohort: window.cohort ?? '',
      requestService: this.config.requestService ?? '',
    };
  }

  /**
   * Served requests of the experiment: the service's `recommendation.request` spans carrying the
   * key, once per span (a retried export can write a span twice), in the window and cohort.
   */
  private get requests(): string {
    return `SELECT any(SpanAttributes['recommendation.request_id']) AS request_id, any(SpanAttributes[{key:String}]) AS variant,
              any(SpanAttributes['user.id']) AS user, any(SpanAttributes['user.cohort']) AS cohort,
              any(${START_MS}) AS start_ms, any(${END_MS}) - any(${START_MS}) AS duration_ms,
              any(StatusCode = 'Error') AS error, any(toInt64OrZero(SpanAttributes['recommendation.count'])) AS impressions
       FROM ${this.db}.${EXPORTER_TABLES.traces}
       WHERE SpanName = '${REQUEST_SPAN}' AND ${TRUSTED} AND mapContains(SpanAttributes, {key:String})
         AND mapContains(SpanAttributes, 'recommendation.request_id')
       GROUP BY TraceId, SpanId
       HAVING start_ms >= {from:Float64} AND start_ms < {to:Float64} AND ({hasCohort:UInt8} = 0 OR cohort = {cohort:String})`;
  }

  /** Browser spans naming a request: every one shows delivery; clicks with a content id may count. */
  private get events(): string {
    return `SELECT TraceId, SpanId, SpanName AS name, SpanAttributes['recommendation.request_id'] AS request_id,
              mapContains(SpanAttributes, 'content.id') AS has_content, SpanAttributes['content.id'] AS content_id,
              mapContains(SpanAttributes, {key:String}) AS has_claim, SpanAttributes[{key:String}] AS claim, ${START_MS} AS start_ms
       FROM ${this.db}.${EXPORTER_TABLES.traces}
       WHERE NOT (${TRUSTED}) AND mapContains(SpanAttributes, 'recommendation.request_id')`;
  }

  read(experiment: ExperimentDefinition, window: AnalysisWindow): Promise<AnalysisData> {
    return this.readNow(experiment, window);
  }

  private async readNow(experiment: ExperimentDefinition, window: AnalysisWindow): Promise<AnalysisData> {
    const key = experiment.baggageKey;
    const params = this.params(key, window);
    const [users, unknownRequest, durations, downstream, metrics, latencyHistograms] = await Promise.all([
      this.users(params),
      this.unknownRequestClicks(params),
      this.requestDurations(params, experiment.variants),
      this.downstream(params),
      this.metricTotals(params),
      this.latencyHistograms(params),
    ]);
    const delivery = new Map<string, { served: number; reported: number }>();
    const variantMismatch: Record<string, number> = {};
    for (const row of users) {
      const entry = delivery.get(row.variant) ?? { served: 0, reported: 0 };
      entry.served += row.requests;
      entry.reported += row.reported;
      delivery.set(row.variant, entry);
      if (row.mismatched > 0) variantMismatch[row.variant] = (variantMismatch[row.variant] ?? 0) + row.mismatched;
    }
    return {
      users,
      rejected: { unknownRequest, variantMismatch },
      durations,
      delivery,
      downstream: downstream.groups,
      bucketsPerE: DURATION_BUCKETS_PER_E,
      cache: downstream.cache,
      metrics,
      latencyHistograms,
    };
  }

  /**
   * Per (variant, user): requests, impressions, errors, verified clicks (once per request and
   * content id, for the request's own variant), requests with any browser event, mismatches.
   */
  private async users(params: Record<string, unknown>) {
    const rows = await this.rows<UserRow>(
      `WITH requests AS (${this.requests}),
            events AS (${this.events}),
            served AS (SELECT request_id, any(variant) AS variant FROM requests GROUP BY request_id),
            clicks AS (
              SELECT e.request_id AS request_id, e.content_id, max(NOT e.has_claim OR e.claim = s.variant) AS matched
              FROM events e INNER JOIN served s ON e.request_id = s.request_id
              WHERE e.name = '${CLICK_SPAN}' AND e.has_content
              GROUP BY e.request_id, e.content_id),
            per_request AS (
              SELECT request_id, countIf(matched) AS clicks, countIf(NOT matched) AS mismatched FROM clicks GROUP BY request_id),
            reported AS (SELECT DISTINCT request_id FROM events WHERE request_id IN (SELECT request_id FROM served))
       SELECT r.variant AS variant, r.user AS user, count() AS requests, sum(r.impressions) AS impressions, sum(r.error) AS errors,
              sum(p.clicks) AS clicks, countIf(r.request_id IN (SELECT request_id FROM reported)) AS reported, sum(p.mismatched) AS mismatched
       FROM requests r LEFT JOIN per_request p ON r.request_id = p.request_id
       GROUP BY r.variant, r.user`,
      params,
    );
    return rows.map((r) => ({
      variant: r.variant,
      user: r.user,
      requests: Number(r.requests),
      impressions: Number(r.impressions),
      errors: Number(r.errors),
      clicks: Number(r.clicks),
      reported: Number(r.reported),
      mismatched: Number(r.mismatched),
    }));
  }

  /** Clicks naming no request the service served, by the variant they claim ('unknown' when none). */
  private async unknownRequestClicks(params: Record<string, unknown>): Promise<Record<string, number>> {
    const rows = await this.rows<{ variant: string; n: string }>(
      `SELECT if(has_claim, claim, 'unknown') AS variant, count(DISTINCT TraceId, SpanId) AS n
       FROM (${this.events})
       WHERE name = '${CLICK_SPAN}' AND start_ms >= {from:Float64} AND start_ms < {to:Float64}
         AND request_id NOT IN (
           SELECT SpanAttributes['recommendation.request_id'] FROM ${this.db}.${EXPORTER_TABLES.traces}
           WHERE SpanName = '${REQUEST_SPAN}' AND ${TRUSTED} AND mapContains(SpanAttributes, 'recommendation.request_id'))
       GROUP BY variant`,
      params,
    );
    return Object.fromEntries(rows.map((r) => [r.variant, Number(r.n)]));
  }

  /** Request durations of each variant, sorted ascending. */
  private async requestDurations(params: Record<string, unknown>, variants: readonly string[]): Promise<Map<string, Float64Array>> {
    const rows = await this.rows<{ variant: string; durations: number[] }>(
      `SELECT variant, groupArray(duration_ms) AS durations FROM (${this.requests}) GROUP BY variant`,
      params,
    );
    const found = new Map(rows.map((r) => [r.variant, r.durations]));
    return new Map(variants.map((variant) => [variant, Float64Array.from(found.get(variant) ?? []).sort()]));
  }

  /**
   * Downstream spans (the service's spans carrying the variant, except the request spans and the
   * request service's SERVER spans) per variant and name, as log buckets; cache hits and misses.
   * Windowed by the minute, as the SQLite rollup is.
   */
  private async downstream(params: Record<string, unknown>) {
    const rows = await this.rows<{ variant: string; name: string; bucket: number; n: string; hits: number; misses: number }>(
      `SELECT variant, name, toInt64(floor(log(greatest(duration_ms, 0.001)) * ${DURATION_BUCKETS_PER_E} + 0.5)) AS bucket, count() AS n,
              sum(hits) AS hits, sum(misses) AS misses
       FROM (
         SELECT SpanAttributes[{key:String}] AS variant, SpanName AS name, ${START_MS} AS start_ms, ${END_MS} - ${START_MS} AS duration_ms,
                toFloat64OrZero(SpanAttributes['cache.hits']) AS hits, toFloat64OrZero(SpanAttributes['cache.misses']) AS misses
         FROM ${this.db}.${EXPORTER_TABLES.traces}
         WHERE ${TRUSTED} AND mapContains(SpanAttributes, {key:String}) AND SpanName != '${REQUEST_SPAN}'
           AND NOT (SpanKind = 'Server' AND ({requestService:String} = '' OR ServiceName = {requestService:String}))
           AND ({hasCohort:UInt8} = 0 OR SpanAttributes['user.cohort'] = {cohort:String}))
       WHERE floor(start_ms / ${MINUTE_MS}) >= {fromMinute:Int64} AND floor(start_ms / ${MINUTE_MS}) < {toMinute:Int64}
       GROUP BY variant, name, bucket ORDER BY variant, name, bucket`,
      params,
    );
    const groups = new Map<string, { variant: string; name: string; count: number; buckets: [number, number][] }>();
    const cache = new Map<string, { hits: number; misses: number }>();
    for (const row of rows) {
      const id = `${row.variant}\u0000${row.name}`;
      let group = groups.get(id);
      if (group === undefined) groups.set(id, (group = { variant: row.variant, name: row.name, count: 0, buckets: [] }));
      const n = Number(row.n);
      group.count += n;
      group.buckets.push([Number(row.bucket), n]);
      if (row.hits > 0 || row.misses > 0) {
        const entry = cache.get(row.variant) ?? { hits: 0, misses: 0 };
        entry.hits += row.hits;
        entry.misses += row.misses;
        cache.set(row.variant, entry);
      }
    }
    return { groups: [...groups.values()], cache };
  }

  /**
   * Points of a metric that count: the service's, or anyone's for the metrics browsers report;
   * delta points by the minute, and the latest point of each cumulative stream in the window.
   */
  private metricPoints(table: string, columns: string, latest: string): string {
    const timeMs = ms('toUnixTimestamp64Nano(TimeUnix)');
    const counts = `MetricName = {name:String} AND mapContains(Attributes, {key:String}) AND (${TRUSTED} OR {anyone:UInt8} = 1)`;
    return `SELECT Attributes[{key:String}] AS variant, ${columns}
       FROM ${this.db}.${table}
       WHERE ${counts} AND AggregationTemporality = 1
         AND floor(${timeMs} / ${MINUTE_MS}) >= {fromMinute:Int64} AND floor(${timeMs} / ${MINUTE_MS}) < {toMinute:Int64}
       UNION ALL
       SELECT any(Attributes[{key:String}]) AS variant, ${latest}
       FROM ${this.db}.${table}
       WHERE ${counts} AND AggregationTemporality = 2 AND ${timeMs} >= {from:Float64} AND ${timeMs} < {to:Float64}
       GROUP BY ResourceAttributes, ScopeName, MetricName, Attributes, StartTimeUnix`;
  }

  private async metricSums(name: string, params: Record<string, unknown>): Promise<Map<string, number>> {
    const rows = await this.rows<{ variant: string; total: number }>(
      `SELECT variant, sum(total) AS total FROM (${this.metricPoints(EXPORTER_TABLES.sum, 'Value AS total', 'argMax(Value, TimeUnix) AS total')}) GROUP BY variant`,
      { ...params, name, anyone: CLIENT_REPORTED_METRICS.has(name) ? 1 : 0 },
    );
    return new Map(rows.map((r) => [r.variant, r.total]));
  }

  private async metricTotals(params: Record<string, unknown>): Promise<Map<string, { impressions: number; clickThrough: number }>> {
    const [impressions, clickThrough] = await Promise.all([this.metricSums(IMPRESSIONS_METRIC, params), this.metricSums(CLICK_THROUGH_METRIC, params)]);
    const totals = new Map<string, { impressions: number; clickThrough: number }>();
    for (const variant of new Set([...impressions.keys(), ...clickThrough.keys()])) {
      totals.set(variant, { impressions: impressions.get(variant) ?? 0, clickThrough: clickThrough.get(variant) ?? 0 });
    }
    return totals;
  }

  /** `recommendation.latency` bucket counts summed per variant; points with other bounds than the variant's first are skipped. */
  private async latencyHistograms(params: Record<string, unknown>): Promise<Map<string, { bounds: number[]; counts: number[] }>> {
    const rows = await this.rows<{ variant: string; bounds: number[]; counts: string[] }>(
      `SELECT variant, bounds, sumForEach(bucket_counts) AS counts FROM (
         ${this.metricPoints(
           EXPORTER_TABLES.histogram,
           'BucketCounts AS bucket_counts, ExplicitBounds AS bounds',
           'argMax(BucketCounts, TimeUnix) AS bucket_counts, argMax(ExplicitBounds, TimeUnix) AS bounds',
         )}
       ) WHERE length(bucket_counts) > 0 GROUP BY variant, bounds ORDER BY variant, count() DESC`,
      { ...params, name: LATENCY_METRIC, anyone: CLIENT_REPORTED_METRICS.has(LATENCY_METRIC) ? 1 : 0 },
    );
    const out = new Map<string, { bounds: number[]; counts: number[] }>();
    for (const row of rows) if (!out.has(row.variant)) out.set(row.variant, { bounds: row.bounds, counts: row.counts.map(Number) });
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsClient) await this.client.close();
  }
}
