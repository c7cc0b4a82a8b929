/**
 * The analysis source of the ClickHouse exporter's tables (`otel_traces`, `otel_metrics_sum`,
 * `otel_metrics_histogram`), written by an OpenTelemetry Collector or by the endpoint itself in
 * `chdb:` mode. The attribution is ClickHouse SQL at query time, over the exporter's own tables:
 * nothing is created beside them, so the analysis works on any existing exporter database and
 * the Collector's writes are never slowed by views. Spans count as the service's only when their
 * resource says `variant_lens.source = service` (set by the collection endpoint); everything else
 * is a browser's claim.
 *
 * The SQL applies the attribution rules of `core/request-attribution.ts` (held to the same table
 * of cases as the SQLite store, in `request-attribution.test.ts`) and reproduces the SQLite
 * store's figures number for number: times in ms are computed from nanoseconds the way
 * `nanosToMillis` does, durations are end minus start in those ms, buckets `Math.round`. It
 * reads order-free what the store decides in arrival order; the one difference: when a request
 * did not record its served ids, which clicks beyond `count` are the invalid ones.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { PopulationFigures } from '../../core/experiment-analysis.js';
import type { ExperimentDefinition } from '../../core/experiment-config.js';
import { ATTRIBUTION_ATTRIBUTES, CLICK_CLOCK_SKEW_MS, CLICK_HORIZON_MS } from '../../core/request-attribution.js';
import { SOURCE_ATTRIBUTE, SOURCE_SERVICE } from '../../core/otlp-encode.js';
import { EXPORTER_TABLES, quoteIdentifier } from '../../clickhouse/exporter-schema.js';
import { DURATION_BUCKETS_PER_E } from '../../store/analysis-store.js';
import { CLIENT_REPORTED_METRICS } from '../../store/telemetry-store.js';
import { variantTotals, type AnalysisData, type AnalysisSource, type AnalysisWindow } from '../analysis-source.js';

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
  /** The running experiments' baggage keys: a request carrying none of them is a holdout visitor's. */
  readonly experimentKeys: readonly string[];
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
  impressions: number;
  errors: string;
  clicks: string;
  reported: string;
  mismatched: string;
  invalid: string;
  durationMsSum: number;
  durationsMs: number[];
  firstExposureMs: number;
  cacheHits: number;
  cacheLookups: number;
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
      keys: this.config.experimentKeys,
      hasCohort: window.cohort === undefined ? 0 : 1,
      cohort: window.cohort ?? '',
      requestService: this.config.requestService ?? '',
    };
  }

  /**
   * Every request the service served (its `recommendation.request` spans, once per request id),
   * with its population as `servedRequestOf` decides it: `forced` (experiment.forced), `holdout`
   * (none of the running experiments' keys) or `experiment`.
   */
  private get served(): string {
    const a = ATTRIBUTION_ATTRIBUTES;
    return `SELECT request_id, any(start_ms) AS start_ms, any(duration_ms) AS duration_ms, any(error) AS error, any(user) AS user,
              any(cohort) AS cohort, any(population) AS population, any(variants) AS variants, any(has_ids) AS has_ids,
              any(content_ids) AS content_ids, any(served_count) AS served_count, any(cache_hits) AS cache_hits, any(cache_misses) AS cache_misses,
              any(session) AS session
       FROM (
         SELECT SpanAttributes['${a.requestId}'] AS request_id, ${START_MS} AS start_ms, ${END_MS} - ${START_MS} AS duration_ms,
                StatusCode = 'Error' AS error, SpanAttributes['${a.userId}'] AS user, SpanAttributes['${a.cohort}'] AS cohort,
                mapFilter((k, v) -> has({keys:Array(String)}, k), SpanAttributes) AS variants,
                multiIf(SpanAttributes['${a.forced}'] = 'true', 'forced', empty(variants), 'holdout', 'experiment') AS population,
                isValidJSON(SpanAttributes['${a.contentIds}']) AS has_ids, JSONExtract(SpanAttributes['${a.contentIds}'], 'Array(String)') AS content_ids,
                toUInt64(if(mapContains(SpanAttributes, '${a.count}'), greatest(0, floor(toFloat64OrZero(SpanAttributes['${a.count}']))), toFloat64(length(content_ids)))) AS served_count,
                toFloat64OrZero(SpanAttributes['cache.hits']) AS cache_hits, toFloat64OrZero(SpanAttributes['cache.misses']) AS cache_misses,
                SpanAttributes['${a.sessionId}'] AS session
         FROM ${this.db}.${EXPORTER_TABLES.traces}
         WHERE SpanName = '${REQUEST_SPAN}' AND ${TRUSTED} AND SpanAttributes['${a.requestId}'] != '')
       GROUP BY request_id`;
  }

  /** Browser spans naming a request, once each (with only their claims on the running experiments): every one shows delivery; clicks are judged. */
  private get events(): string {
    const a = ATTRIBUTION_ATTRIBUTES;
    return `SELECT TraceId, SpanId, any(SpanName) AS name, any(SpanAttributes['${a.requestId}']) AS request_id,
              any(SpanAttributes['${a.contentId}']) AS content_id,
              any(mapFilter((k, v) -> has({keys:Array(String)}, k), SpanAttributes)) AS attributes, any(${START_MS}) AS start_ms,
              any(if(mapContains(SpanAttributes, '${a.sessionId}'), SpanAttributes['${a.sessionId}'], ResourceAttributes['${a.sessionId}'])) AS session
       FROM ${this.db}.${EXPORTER_TABLES.traces}
       WHERE NOT (${TRUSTED}) AND mapContains(SpanAttributes, '${a.requestId}')
       GROUP BY TraceId, SpanId`;
  }

  /**
   * Per served request: browser events, and its clicks judged as `judgeClick` judges them —
   * invalid (no content id, a content id it did not serve, outside the click window), counted
   * (once per content id, claiming no other variant), mismatched for the analysed key (once per
   * content id, whether or not a genuine click came too; a click from another session than the
   * one the request recorded, its span's or else its resource's `session.id`, is mismatched). Needs `served` beside it.
   */
  private get perRequest(): string {
    // Without the served ids, at most served_count distinct content ids count; clicks on more are invalid.
    return `SELECT request_id, events, toUInt64(if(has_ids, invalid, invalid + greatest(0, toInt64(genuine) - toInt64(served_count)))) AS invalid,
              toUInt64(if(has_ids, genuine, least(genuine, served_count))) AS clicks, mismatched
       FROM (
       SELECT request_id, count() AS events, countIf(click AND NOT valid) AS invalid, any(has_ids) AS has_ids, any(served_count) AS served_count,
              uniqExactIf(content_id, click AND valid AND NOT contradicts) AS genuine,
              uniqExactIf(content_id, click AND valid AND contradicts_key) AS mismatched
       FROM (
         SELECT e.request_id AS request_id, e.name = '${CLICK_SPAN}' AS click, e.content_id AS content_id, s.has_ids AS has_ids, s.served_count AS served_count,
                e.content_id != '' AND (NOT s.has_ids OR has(s.content_ids, e.content_id))
                  AND e.start_ms >= s.start_ms - ${CLICK_CLOCK_SKEW_MS} AND e.start_ms <= s.start_ms + ${CLICK_HORIZON_MS} AS valid,
                s.session != '' AND e.session != s.session AS other_session,
                other_session OR arrayExists(k -> mapContains(e.attributes, k) AND e.attributes[k] != s.variants[k], mapKeys(s.variants)) AS contradicts,
                mapContains(s.variants, {key:String}) AND (other_session OR (mapContains(e.attributes, {key:String}) AND e.attributes[{key:String}] != s.variants[{key:String}])) AS contradicts_key
         FROM (${this.events}) e INNER JOIN served s ON e.request_id = s.request_id)
       GROUP BY request_id)`;
  }

  /** `WITH served AS (…), per_request AS (…)`. */
  private get attributed(): string {
    return `WITH served AS (${this.served}), per_request AS (${this.perRequest})`;
  }

  /** The analysed experiment's served requests in the cohort. */
  private static readonly EXPERIMENT = `s.population = 'experiment' AND mapContains(s.variants, {key:String}) AND ({hasCohort:UInt8} = 0 OR s.cohort = {cohort:String})`;

  read(experiment: ExperimentDefinition, window: AnalysisWindow): Promise<AnalysisData> {
    return this.readNow(experiment, window);
  }

  private async readNow(experiment: ExperimentDefinition, window: AnalysisWindow): Promise<AnalysisData> {
    const key = experiment.baggageKey;
    const params = this.params(key, window);
    const [users, populations, unknownRequest, durations, downstream, metrics, latencyHistograms] = await Promise.all([
      this.users(params),
      this.populations(params),
      this.unknownRequestClicks(params),
      this.requestDurations(params, experiment.variants),
      this.downstream(params),
      this.metricTotals(params),
      this.latencyHistograms(params),
    ]);
    const { delivery, variantMismatch, invalid } = variantTotals(users);
    return {
      users,
      rejected: { unknownRequest, variantMismatch, invalid },
      populations,
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
   * Per (variant, user): requests, impressions, errors, counted clicks, requests with any browser
   * event, mismatches and invalid clicks. A user is in the window when their first exposure is,
   * and counts their activity up to the window's end (as the SQLite store reads it).
   */
  private async users(params: Record<string, unknown>) {
    const rows = await this.rows<UserRow>(
      `${this.attributed}
       SELECT s.variants[{key:String}] AS variant, s.user AS user, count() AS requests, sum(s.served_count) AS impressions, sum(s.error) AS errors,
              sum(p.clicks) AS clicks, countIf(p.events > 0) AS reported, sum(p.mismatched) AS mismatched, sum(p.invalid) AS invalid,
              sum(s.duration_ms) AS durationMsSum, arrayMap(x -> x.2, arraySort(groupArray((s.start_ms, s.duration_ms)))) AS durationsMs,
              min(s.start_ms) AS firstExposureMs, sum(s.cache_hits) AS cacheHits, sum(s.cache_hits + s.cache_misses) AS cacheLookups
       FROM served s LEFT JOIN per_request p ON s.request_id = p.request_id
       WHERE ${ClickHouseAnalysisSource.EXPERIMENT} AND s.start_ms < {to:Float64}
       GROUP BY variant, user HAVING min(s.start_ms) >= {from:Float64}`,
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
      invalid: Number(r.invalid),
      durationMsSum: r.durationMsSum,
      durationsMs: r.durationsMs,
      firstExposureMs: Number(r.firstExposureMs),
      cacheHits: Number(r.cacheHits),
      cacheLookups: Number(r.cacheLookups),
    }));
  }

  /** The served requests outside the randomised population (holdout, forced), in the window and cohort. */
  private async populations(params: Record<string, unknown>): Promise<Partial<Record<'holdout' | 'forced', PopulationFigures>>> {
    const rows = await this.rows<{ population: 'holdout' | 'forced'; users: string; requests: string; impressions: number; clicks: string }>(
      `${this.attributed}
       SELECT s.population AS population, uniqExact(s.user) AS users, count() AS requests, sum(s.served_count) AS impressions, sum(p.clicks) AS clicks
       FROM served s LEFT JOIN per_request p ON s.request_id = p.request_id
       WHERE s.population != 'experiment' AND s.start_ms >= {from:Float64} AND s.start_ms < {to:Float64} AND ({hasCohort:UInt8} = 0 OR s.cohort = {cohort:String})
       GROUP BY population`,
      params,
    );
    return Object.fromEntries(
      rows.map((r) => [r.population, { users: Number(r.users), requests: Number(r.requests), impressions: Number(r.impressions), clicks: Number(r.clicks) }]),
    );
  }

  /** Clicks naming no request the service served, by the variant they claim ('unknown' when none). */
  private async unknownRequestClicks(params: Record<string, unknown>): Promise<Record<string, number>> {
    const rows = await this.rows<{ variant: string; n: string }>(
      `WITH served AS (${this.served})
       SELECT if(mapContains(attributes, {key:String}), attributes[{key:String}], 'unknown') AS variant, count() AS n
       FROM (${this.events})
       WHERE name = '${CLICK_SPAN}' AND start_ms >= {from:Float64} AND start_ms < {to:Float64} AND request_id NOT IN (SELECT request_id FROM served)
       GROUP BY variant`,
      params,
    );
    return Object.fromEntries(rows.map((r) => [r.variant, Number(r.n)]));
  }

  /** Request durations of each variant, sorted ascending. */
  private async requestDurations(params: Record<string, unknown>, variants: readonly string[]): Promise<Map<string, Float64Array>> {
    const rows = await this.rows<{ variant: string; durations: number[] }>(
      `WITH served AS (${this.served})
       SELECT s.variants[{key:String}] AS variant, groupArray(s.duration_ms) AS durations FROM served s
       WHERE ${ClickHouseAnalysisSource.EXPERIMENT} AND s.start_ms >= {from:Float64} AND s.start_ms < {to:Float64}
       GROUP BY variant`,
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
         SELECT any(SpanAttributes[{key:String}]) AS variant, any(SpanName) AS name, any(${START_MS}) AS start_ms, any(${END_MS}) - any(${START_MS}) AS duration_ms,
                any(toFloat64OrZero(SpanAttributes['cache.hits'])) AS hits, any(toFloat64OrZero(SpanAttributes['cache.misses'])) AS misses
         FROM ${this.db}.${EXPORTER_TABLES.traces}
         WHERE ${TRUSTED} AND mapContains(SpanAttributes, {key:String}) AND SpanName != '${REQUEST_SPAN}'
           AND NOT (SpanKind = 'Server' AND ({requestService:String} = '' OR ServiceName = {requestService:String}))
           AND ({hasCohort:UInt8} = 0 OR SpanAttributes['user.cohort'] = {cohort:String})
           -- A forced (QA) visitor's work is not its variant's (the exporter writes booleans as 'true').
           AND SpanAttributes['experiment.forced'] != 'true'
         -- Once per span, as the SQLite store keeps it: an exporter's retry can write a span twice.
         GROUP BY TraceId, SpanId)
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
