/**
 * The analysis source of the ClickHouse exporter's tables (`otel_traces`, `otel_metrics_sum`,
 * `otel_metrics_histogram`), written by an OpenTelemetry Collector or by the endpoint itself in
 * `chdb:` mode. Spans are read through the analysis tables beside `otel_traces`
 * (`analysis-tables.ts`), which materialized views fill as the spans arrive: one narrow row per
 * served request, per browser event naming a request and per downstream span. The source creates
 * them on its first read when missing, filled with the spans already stored. Spans count as the
 * service's only when their resource says `variant_lens.source = service` (set by the collection
 * endpoint); everything else is a browser's claim.
 *
 * The SQL applies the attribution rules of `core/request-attribution.ts` (held to the same table
 * of cases as the SQLite store, in `request-attribution.test.ts`) at query time, and reproduces
 * the SQLite store's figures number for number: times in ms are computed from nanoseconds the way
 * `nanosToMillis` does, durations are end minus start in those ms, buckets `Math.round`. It
 * reads order-free what the store decides in arrival order; the one difference: when a request
 * did not record its served ids, which clicks beyond `count` are the invalid ones.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { PopulationFigures } from '../../core/experiment-analysis.js';
import type { ExperimentDefinition } from '../../core/experiment-config.js';
import { CLICK_CLOCK_SKEW_MS, CLICK_HORIZON_MS } from '../../core/request-attribution.js';
import { EXPORTER_TABLES, quoteIdentifier } from '../../clickhouse/exporter-schema.js';
import { DURATION_BUCKETS_PER_E } from '../../store/analysis-store.js';
import { CLIENT_REPORTED_METRICS } from '../../store/telemetry-store.js';
import { ANALYSIS_TABLES, ensureAnalysisTables, nanosToMs, TRUSTED } from './analysis-tables.js';
import { variantTotals, type AnalysisData, type AnalysisSource, type AnalysisWindow } from '../analysis-source.js';

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
  /** The analysis tables, created (and filled with the spans stored before) on the first read. */
  private tables: Promise<void> | undefined;
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
    return `SELECT request_id, start_ms, duration_ms, error, user, cohort, variants, has_ids, content_ids, served_count, cache_hits, cache_misses,
              multiIf(forced, 'forced', empty(variants), 'holdout', 'experiment') AS population
       FROM (
         SELECT request_id, any(start_ms) AS start_ms, any(duration_ms) AS duration_ms, any(error) AS error, any(user) AS user,
                any(cohort) AS cohort, any(forced) AS forced, mapFilter((k, v) -> has({keys:Array(String)}, k), any(claims)) AS variants,
                any(has_ids) AS has_ids, any(content_ids) AS content_ids, any(served_count) AS served_count,
                any(cache_hits) AS cache_hits, any(cache_misses) AS cache_misses
         FROM ${this.db}.${ANALYSIS_TABLES.served}
         GROUP BY request_id)`;
  }

  /** Browser spans naming a request, once each (with only their claims on the running experiments): every one shows delivery; clicks are judged. */
  private get events(): string {
    return `SELECT request_id, span_key, 1 AS present, any(name) AS name, any(content_id) AS content_id,
              mapFilter((k, v) -> has({keys:Array(String)}, k), any(claims)) AS attributes, any(start_ms) AS start_ms
       FROM ${this.db}.${ANALYSIS_TABLES.events}
       GROUP BY request_id, span_key`;
  }

  /**
   * Per served request (once each) with its browser events, and its clicks judged as `judgeClick`
   * judges them — invalid (no content id, a content id it did not serve, outside the click window),
   * counted (once per content id, claiming no other variant), mismatched for the analysed key (once
   * per content id, whether or not a genuine click came too). One join of the served requests with
   * the events naming them, so each is read once per query.
   */
  private get perRequest(): string {
    // Without the served ids, at most served_count distinct content ids count; clicks on more are invalid.
    return `SELECT request_id, start_ms, duration_ms, error, user, cohort, population, variants, served_count, cache_hits, cache_misses, events,
              toUInt64(if(has_ids, invalid, invalid + greatest(0, toInt64(genuine) - toInt64(served_count)))) AS invalid,
              toUInt64(if(has_ids, genuine, least(genuine, served_count))) AS counted, mismatched
       FROM (
       SELECT request_id, any(start_ms) AS start_ms, any(duration_ms) AS duration_ms, any(error) AS error, any(user) AS user, any(cohort) AS cohort,
              any(population) AS population, any(variants) AS variants, any(has_ids) AS has_ids, any(served_count) AS served_count,
              any(cache_hits) AS cache_hits, any(cache_misses) AS cache_misses,
              sum(present) AS events, countIf(click AND NOT valid) AS invalid,
              uniqExactIf(content_id, click AND valid AND NOT contradicts) AS genuine,
              uniqExactIf(content_id, click AND valid AND contradicts_key) AS mismatched
       FROM (
         SELECT s.request_id AS request_id, s.start_ms AS start_ms, s.duration_ms AS duration_ms, s.error AS error, s.user AS user, s.cohort AS cohort,
                s.population AS population, s.variants AS variants, s.has_ids AS has_ids, s.served_count AS served_count,
                s.cache_hits AS cache_hits, s.cache_misses AS cache_misses,
                -- A request without events meets the defaults of the LEFT JOIN: present 0, no name.
                e.present AS present, e.name = '${CLICK_SPAN}' AS click, e.content_id AS content_id,
                e.content_id != '' AND (NOT s.has_ids OR has(s.content_ids, e.content_id))
                  AND e.start_ms >= s.start_ms - ${CLICK_CLOCK_SKEW_MS} AND e.start_ms <= s.start_ms + ${CLICK_HORIZON_MS} AS valid,
                arrayExists(k -> mapContains(e.attributes, k) AND e.attributes[k] != s.variants[k], mapKeys(s.variants)) AS contradicts,
                mapContains(s.variants, {key:String}) AND mapContains(e.attributes, {key:String}) AND e.attributes[{key:String}] != s.variants[{key:String}] AS contradicts_key
         FROM (${this.served}) s LEFT JOIN (${this.events}) e ON s.request_id = e.request_id
         WHERE s.start_ms < {to:Float64} AND ({hasCohort:UInt8} = 0 OR s.cohort = {cohort:String}))
       GROUP BY request_id)`;
  }

  async read(experiment: ExperimentDefinition, window: AnalysisWindow): Promise<AnalysisData> {
    this.tables ??= ensureAnalysisTables(this.client, this.config.database).catch((error: unknown) => {
      this.tables = undefined;
      throw error;
    });
    await this.tables;
    return this.readNow(experiment, window);
  }

  private async readNow(experiment: ExperimentDefinition, window: AnalysisWindow): Promise<AnalysisData> {
    const key = experiment.baggageKey;
    const params = this.params(key, window);
    const [served, unknownRequest, downstream, metrics, latencyHistograms] = await Promise.all([
      this.servedRequests(params, window, experiment.variants),
      this.unknownRequestClicks(params),
      this.downstream(params),
      this.metricTotals(params),
      this.latencyHistograms(params),
    ]);
    const { users, populations, durations } = served;
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
   * The served requests up to the window's end, per (population, variant, user), in one query:
   * - the users of the analysed experiment: requests, impressions, errors, counted clicks, requests
   *   with any browser event, mismatches and invalid clicks. A user is in the window when their
   *   first exposure is, and counts their activity up to the window's end (as the SQLite store reads it);
   * - the request durations of each variant in the window, sorted ascending;
   * - the served requests outside the randomised population (holdout, forced) in the window.
   */
  private async servedRequests(params: Record<string, unknown>, window: AnalysisWindow, variants: readonly string[]) {
    const rows = await this.rows<UserRow & { population: string; beforeWindow: string; windowImpressions: number; windowClicks: string }>(
      `WITH per_request AS (${this.perRequest})
       SELECT population, if(population = 'experiment', variants[{key:String}], '') AS variant, user, count() AS requests,
              sum(served_count) AS impressions, sum(error) AS errors, sum(counted) AS clicks, countIf(events > 0) AS reported,
              sum(mismatched) AS mismatched, sum(invalid) AS invalid, sum(duration_ms) AS durationMsSum,
              arrayMap(x -> x.2, arraySort(groupArray((start_ms, duration_ms)))) AS durationsMs, min(start_ms) AS firstExposureMs,
              sum(cache_hits) AS cacheHits, sum(cache_hits + cache_misses) AS cacheLookups,
              countIf(start_ms < {from:Float64}) AS beforeWindow, sumIf(served_count, start_ms >= {from:Float64}) AS windowImpressions,
              sumIf(counted, start_ms >= {from:Float64}) AS windowClicks
       FROM per_request
       WHERE population != 'experiment' OR mapContains(variants, {key:String})
       GROUP BY population, variant, user`,
      params,
    );
    const users = [];
    const populations: Partial<Record<'holdout' | 'forced', { -readonly [K in keyof PopulationFigures]: PopulationFigures[K] }>> = {};
    const durations = new Map<string, number[]>(variants.map((variant) => [variant, []]));
    for (const r of rows) {
      const requests = Number(r.requests);
      const before = Number(r.beforeWindow);
      if (r.population !== 'experiment') {
        if (requests === before) continue;
        const figures = (populations[r.population as 'holdout' | 'forced'] ??= { users: 0, requests: 0, impressions: 0, clicks: 0 });
        figures.users += 1;
        figures.requests += requests - before;
        figures.impressions += Number(r.windowImpressions);
        figures.clicks += Number(r.windowClicks);
        continue;
      }
      // Ordered by start: the window's requests are the last ones.
      const list = durations.get(r.variant) ?? [];
      for (let i = before; i < r.durationsMs.length; i += 1) list.push(r.durationsMs[i]!);
      durations.set(r.variant, list);
      if (Number(r.firstExposureMs) < window.fromMs) continue;
      users.push({
        variant: r.variant,
        user: r.user,
        requests,
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
      });
    }
    return { users, populations, durations: new Map([...durations].map(([variant, list]) => [variant, Float64Array.from(list).sort()])) };
  }

  /** Clicks naming no request the service served, by the variant they claim ('unknown' when none). */
  private async unknownRequestClicks(params: Record<string, unknown>): Promise<Record<string, number>> {
    const rows = await this.rows<{ variant: string; n: string }>(
      `SELECT if(mapContains(attributes, {key:String}), attributes[{key:String}], 'unknown') AS variant, count() AS n
       FROM (${this.events})
       WHERE name = '${CLICK_SPAN}' AND start_ms >= {from:Float64} AND start_ms < {to:Float64}
         AND request_id NOT IN (SELECT request_id FROM ${this.db}.${ANALYSIS_TABLES.served})
       GROUP BY variant`,
      params,
    );
    return Object.fromEntries(rows.map((r) => [r.variant, Number(r.n)]));
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
         SELECT any(attributes[{key:String}]) AS variant, any(name) AS name, any(duration_ms) AS duration_ms, any(hits) AS hits, any(misses) AS misses
         FROM ${this.db}.${ANALYSIS_TABLES.downstream}
         WHERE minute >= {fromMinute:Int64} AND minute < {toMinute:Int64} AND mapContains(attributes, {key:String})
           AND NOT (is_server AND ({requestService:String} = '' OR service = {requestService:String}))
           AND ({hasCohort:UInt8} = 0 OR cohort = {cohort:String})
         -- Once per span, as the SQLite store keeps it: an exporter's retry can write a span twice.
         GROUP BY minute, span_key)
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
    const timeMs = nanosToMs('toUnixTimestamp64Nano(TimeUnix)');
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
