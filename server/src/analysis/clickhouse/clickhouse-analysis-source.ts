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
import { DISTRIBUTION_BOUNDS_MS, variantLatency, type PopulationFigures, type VariantLatency } from '../../core/experiment-analysis.js';
import { percentileEstimate, woodruffLevels } from '../../core/guardrails.js';
import { addRatioUnit, emptyRatioSums, ratioEstimateFromMoments, type RatioSums } from '../../core/statistics.js';
import type { ExperimentDefinition } from '../../core/experiment-config.js';
import { CLICK_CLOCK_SKEW_MS, CLICK_HORIZON_MS } from '../../core/request-attribution.js';
import { EXPORTER_TABLES, quoteIdentifier } from '../../clickhouse/exporter-schema.js';
import { DURATION_BUCKETS_PER_E } from '../../store/analysis-store.js';
import { CLIENT_REPORTED_METRICS } from '../../store/telemetry-store.js';
import { ANALYSIS_TABLES, ensureAnalysisTables, nanosToMs, TRUSTED } from './analysis-tables.js';
import { downstreamGroups, variantTotals, type AnalysisData, type AnalysisSource, type AnalysisWindow } from '../analysis-source.js';

const CLICK_SPAN = 'recommendation.click';
const IMPRESSIONS_METRIC = 'recommendation.impressions';
const CLICK_THROUGH_METRIC = 'recommendation.click_through';
const LATENCY_METRIC = 'recommendation.latency';
const MINUTE_MS = 60_000;

/** A finite number as a ClickHouse literal that reads back as the same double (JavaScript writes the shortest that does). */
function sqlFloat(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
  return String(value);
}

/** Configuration of the ClickHouse analysis source. */
export interface ClickHouseAnalysisConfig {
  /** Database of the exporter's tables. */
  readonly database: string;
  /** `service.name` of the recommendation server: its SERVER spans are the requests, not downstream work. */
  readonly requestService?: string;
  /** The running experiments' baggage keys: a request carrying none of them is a holdout visitor's. */
  readonly experimentKeys: readonly string[];
}


/** The served-requests query's columns. */
interface ServedColumns {
  population: string[];
  variant: string[];
  user: string[];
  requests: number[];
  impressions: number[];
  errors: number[];
  clicks: number[];
  reported: number[];
  mismatched: number[];
  invalid: number[];
  durationMsSum: number[];
  firstExposureMs: number[];
  cacheHits: number[];
  cacheLookups: number[];
  beforeWindow: number[];
  windowImpressions: number[];
  windowClicks: number[];
  atOrBelowP50: number[];
  atOrBelowP95: number[];
}

/** A variant's request durations in the window: p50, p95, p99 and the counts of `DISTRIBUTION_BOUNDS_MS`'s buckets. */
interface LatencyArm {
  variant: string;
  q: number[];
  buckets: string[];
}

/** Per arm, the ratio moments over users of the share of their requests at or below the p50 and the p95. */
interface ShareSums {
  readonly p50: RatioSums;
  readonly p95: RatioSums;
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

  /**
   * A result of many rows by column: one array per column. For 100,000 rows this reads about four
   * times faster than row by row (measured on chdb: 0.3 s against 1.4 s), which is most of a read.
   * The body is taken whole and decoded at once: the client's `text()` decodes a chunk at a time
   * with a streaming `TextDecoder`, four times slower (11 MB, the per-user rows at 10M spans: 130-160
   * ms against 35-40 ms), on the thread that then runs the analysis. 64-bit integers come as numbers
   * (the counts of a read stay far below 2^53): 1.2M fewer strings to parse at 10M spans.
   */
  private async columns<T>(query: string, params: Record<string, unknown>): Promise<T> {
    const { stream } = await this.client.exec({
      query: `${query}\nFORMAT JSONColumnsWithMetadata`,
      query_params: params,
      // Counts as JSON numbers, not strings (they stay far below 2^53).
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    });
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    let parsed: { meta: { name: string }[]; data: Record<string, unknown[]> };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      throw new Error(`ClickHouse answered with no JSON columns: ${body.slice(0, 300)}`);
    }
    // With no rows the columns are missing, not empty.
    return Object.fromEntries(parsed.meta.map(({ name }) => [name, parsed.data[name] ?? []])) as T;
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
      ...Object.fromEntries(this.config.experimentKeys.map((k, i) => [`claimKey${i}`, k])),
    };
  }

  /**
   * Every request the service served up to the window's end (its `recommendation.request` spans,
   * once per request id), with its population as `servedRequestOf` decides it: `forced`
   * (experiment.forced), `holdout` (none of the running experiments' keys) or `experiment`, and its
   * variant of the analysed key; of the experiment population only those carrying that key. Once
   * each by `FINAL`: on these tables (ReplacingMergeTree, rows arriving in time order) it reads
   * faster than a GROUP BY or LIMIT BY of the rows, which carry maps (measured at 1M spans: 1.0 s
   * against 2.7 s for the downstream spans). `columns`: more of the table's columns.
   */
  private served(columns = ''): string {
    return `SELECT * FROM (
         SELECT request_id, start_ms, duration_ms, error, user, served_count, cache_hits, cache_misses, has_ids${columns},
                multiIf(forced, 'forced', NOT hasAny(mapKeys(claims), {keys:Array(String)}), 'holdout', 'experiment') AS population,
                if(population = 'experiment', claims[{key:String}], '') AS variant,
                has({keys:Array(String)}, {key:String}) AND mapContains(claims, {key:String}) AS has_key
         FROM ${this.db}.${ANALYSIS_TABLES.served} FINAL
         WHERE start_ms < {to:Float64} AND ({hasCohort:UInt8} = 0 OR cohort = {cohort:String}))
       WHERE population != 'experiment' OR has_key`;
  }

  /** Browser spans naming a request, once each, with their attributes (claims among them): every one shows delivery; clicks are judged. */
  private get events(): string {
    return `SELECT request_id, name, content_id, claims AS attributes, start_ms, session FROM ${this.db}.${ANALYSIS_TABLES.events} FINAL`;
  }

  /**
   * Per (population, variant, user), what does not depend on the clicks: requests, impressions,
   * errors, requests any browser event named (existence only, so a duplicate event changes nothing
   * and no FINAL is needed; `IN` a set, measured at 10M spans 0.4 s against 1.4 s for a join), the
   * durations' sum, first exposure, cache figures, what the populations need of the window, and the
   * user's requests at or below their variant's p50 and p95 of the window (`arms`; the percentile
   * guardrails' shares, counted here instead of in a scan of their own; the query takes the arms'
   * names as `armNames`).
   */
  private perUserServed(arms: readonly LatencyArm[]): string {
    const at = (q: 0 | 1) =>
      arms.length === 0 ? '0' : `countIf(duration_ms <= arrayElement([${arms.map((a) => sqlFloat(a.q[q]!)).join(', ')}], indexOf({armNames:Array(String)}, variant)))`;
    return `SELECT population, variant, user, count() AS requests, sum(served_count) AS impressions, sum(error) AS errors,
              sum(request_id IN (SELECT request_id FROM ${this.db}.${ANALYSIS_TABLES.events})) AS reported, sum(duration_ms) AS durationMsSum,
              min(start_ms) AS firstExposureMs,
              sum(cache_hits) AS cacheHits, sum(cache_hits + cache_misses) AS cacheLookups,
              countIf(start_ms < {from:Float64}) AS beforeWindow, sumIf(served_count, start_ms >= {from:Float64}) AS windowImpressions,
              ${at(0)} AS atOrBelowP50, ${at(1)} AS atOrBelowP95
       FROM (${this.served()})
       GROUP BY population, variant, user`;
  }

  /**
   * Per (population, variant, user), the clicks on their requests judged as `judgeClick` judges
   * them — invalid (no content id, a content id it did not serve, outside the click window), counted
   * (once per request and content id, claiming no other variant), mismatched for the analysed key
   * (once per request and content id, whether or not a genuine click came too; a click from another
   * session than the one the request recorded, or with none, is mismatched). Without the served ids,
   * at most served_count distinct content ids count; clicks on more are invalid. The clicks are
   * narrowed before the join (their claims of the running keys as (present, value) columns); the
   * requests stream through it with their claims map, read only where a click meets them; judged per
   * request, then summed per user, so only the users' rows meet the other figures (measured at 10M
   * spans: 2.5 s against 3.0-3.6 s joining the judged requests to every served one).
   */
  private get perUserClicks(): string {
    // Distinct content ids of a request's few clicks: a small array beats a hash set per request.
    const distinct = (condition: string) => `length(arrayDistinct(groupArrayIf(content_id, ${condition})))`;
    // Each running key's claim as two plain columns on both sides (present, value): comparing them
    // after the join costs half of what a lambda over the request's claims map did (measured at 10M
    // spans: the whole query 1.3 s of CPU against 2.6 s).
    const claimColumns = this.config.experimentKeys.map((_, i) => `, mapContains(claims, {claimKey${i}:String}) AS has_${i}, claims[{claimKey${i}:String}] AS value_${i}`).join('');
    const contradicted = this.config.experimentKeys.map((_, i) => ` OR (c.has_${i} AND r.has_${i} AND c.value_${i} != r.value_${i})`).join('');
    return `SELECT population, variant, user, sum(counted) AS clicks, sum(invalid) AS invalid, sum(mismatched) AS mismatched,
              sumIf(counted, start_ms >= {from:Float64}) AS windowClicks
       FROM (
         SELECT any(population) AS population, any(variant) AS variant, any(user) AS user, any(start_ms) AS start_ms,
                ${distinct('valid AND NOT contradicts')} AS genuine, any(served_count) AS served_count, any(has_ids) AS has_ids,
                toUInt64(if(has_ids, countIf(NOT valid), countIf(NOT valid) + greatest(0, toInt64(genuine) - toInt64(served_count)))) AS invalid,
                toUInt64(if(has_ids, genuine, least(genuine, served_count))) AS counted, ${distinct('valid AND contradicts_key')} AS mismatched
         FROM (
           SELECT r.request_id AS request_id, r.population AS population, r.variant AS variant, r.user AS user, r.start_ms AS start_ms,
                  r.has_ids AS has_ids, r.served_count AS served_count, c.content_id AS content_id,
                  c.content_id != '' AND (NOT r.has_ids OR has(r.content_ids, c.content_id))
                    AND c.start_ms >= r.start_ms - ${CLICK_CLOCK_SKEW_MS} AND c.start_ms <= r.start_ms + ${CLICK_HORIZON_MS} AS valid,
                  r.session != '' AND c.session != r.session AS other_session,
                  other_session${contradicted} AS contradicts,
                  r.has_key AND (other_session OR (c.has_key_claim AND c.key_claim_value != r.key_value)) AS contradicts_key
           FROM (${this.served(`, content_ids, session, claims[{key:String}] AS key_value${claimColumns}`)}) r
           INNER JOIN (SELECT request_id, content_id, start_ms, session${claimColumns},
                              mapContains(claims, {key:String}) AS has_key_claim, claims[{key:String}] AS key_claim_value
                       FROM ${this.db}.${ANALYSIS_TABLES.events} FINAL WHERE name = '${CLICK_SPAN}') c ON c.request_id = r.request_id)
         GROUP BY request_id)
       GROUP BY population, variant, user`;
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
    const servedAndLatency = async () => {
      const arms = await this.latencyArms(params);
      const served = await this.servedRequests({ ...params, armNames: arms.map((arm) => arm.variant) }, window, arms);
      return { ...served, latency: await this.latency(params, experiment.variants, arms, served.shares) };
    };
    const [{ users, populations, latency }, unknownRequest, downstream, metrics, latencyHistograms] = await Promise.all([
      servedAndLatency(),
      this.unknownRequestClicks(params),
      this.downstream(params),
      this.metricTotals(params),
      this.latencyHistograms(params),
    ]);
    const { delivery, variantMismatch, invalid } = variantTotals(users);
    return {
      users,
      rejected: { unknownRequest, variantMismatch, invalid },
      populations,
      durations: new Map(),
      latency,
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
   * - the served requests outside the randomised population (holdout, forced) in the window;
   * - for each arm of `arms`, the moments over those users of the share of their requests at or below
   *   the arm's p50 and p95 (what `percentileWithError` computes from the lists).
   */
  private async servedRequests(params: Record<string, unknown>, window: AnalysisWindow, arms: readonly LatencyArm[]) {
    const c = await this.columns<ServedColumns>(
      `SELECT s.*, j.clicks AS clicks, j.invalid AS invalid, j.mismatched AS mismatched, j.windowClicks AS windowClicks
       FROM (${this.perUserServed(arms)}) s
       LEFT JOIN (${this.perUserClicks}) j ON s.population = j.population AND s.variant = j.variant AND s.user = j.user`,
      params,
    );
    const users = [];
    const populations: Partial<Record<'holdout' | 'forced', { -readonly [K in keyof PopulationFigures]: PopulationFigures[K] }>> = {};
    const shares = new Map<string, ShareSums>(arms.map((arm) => [arm.variant, { p50: emptyRatioSums(), p95: emptyRatioSums() }]));
    for (let i = 0; i < c.user.length; i += 1) {
      const requests = c.requests[i]!;
      const before = c.beforeWindow[i]!;
      const population = c.population[i]!;
      if (population !== 'experiment') {
        if (requests === before) continue;
        const figures = (populations[population as 'holdout' | 'forced'] ??= { users: 0, requests: 0, impressions: 0, clicks: 0 });
        figures.users += 1;
        figures.requests += requests - before;
        figures.impressions += c.windowImpressions[i]!;
        figures.clicks += c.windowClicks[i]!;
        continue;
      }
      if (c.firstExposureMs[i]! < window.fromMs) continue;
      const variant = c.variant[i]!;
      users.push({
        variant,
        user: c.user[i]!,
        requests,
        impressions: c.impressions[i]!,
        errors: c.errors[i]!,
        clicks: c.clicks[i]!,
        reported: c.reported[i]!,
        mismatched: c.mismatched[i]!,
        invalid: c.invalid[i]!,
        durationMsSum: c.durationMsSum[i]!,
        firstExposureMs: c.firstExposureMs[i]!,
        cacheHits: c.cacheHits[i]!,
        cacheLookups: c.cacheLookups[i]!,
      });
      const share = shares.get(variant);
      if (share === undefined) continue;
      addRatioUnit(share.p50, c.atOrBelowP50[i]!, requests);
      addRatioUnit(share.p95, c.atOrBelowP95[i]!, requests);
    }
    return { users, populations, shares };
  }

  /** The durations of the experiment's requests up to the window's end (the window's own: `start_ms >= from`). */
  private get durations(): string {
    return `SELECT variant, user, duration_ms, start_ms FROM (${this.served()}) WHERE population = 'experiment'`;
  }

  /** Per variant with requests in the window: p50, p95 and p99 of their durations, and the distribution's counts. */
  private async latencyArms(params: Record<string, unknown>): Promise<LatencyArm[]> {
    const bounds = DISTRIBUTION_BOUNDS_MS.map((b, i) => (i === 0 ? `duration_ms <= ${b}` : `duration_ms > ${DISTRIBUTION_BOUNDS_MS[i - 1]} AND duration_ms <= ${b}`));
    bounds.push(`duration_ms > ${DISTRIBUTION_BOUNDS_MS[DISTRIBUTION_BOUNDS_MS.length - 1]}`);
    return this.rows<LatencyArm>(
      `SELECT variant, quantilesExactInclusive(0.5, 0.95, 0.99)(duration_ms) AS q, [${bounds.map((b) => `countIf(${b})`).join(', ')}] AS buckets
       FROM (${this.durations}) WHERE start_ms >= {from:Float64} GROUP BY variant`,
      params,
    );
  }

  /**
   * The latency figures of each variant, computed where the durations are instead of shipping every
   * one (1.1M at 10M spans): the arms' percentiles and distribution (`latencyArms`); for the
   * percentile guardrails, the moments of the share of each user's requests at or below the p50 and
   * the p95 over the users first served in the window (`servedRequests`); then the percentiles at the
   * Woodruff levels those give (`percentileWithError` computes the same from the lists).
   * ClickHouse's `quantileExactInclusive` interpolates as `percentile` does.
   */
  private async latency(
    params: Record<string, unknown>,
    variants: readonly string[],
    arms: readonly LatencyArm[],
    shares: ReadonlyMap<string, ShareSums>,
  ): Promise<Map<string, VariantLatency>> {
    const out = new Map<string, VariantLatency>(variants.map((variant) => [variant, variantLatency([], [])]));
    if (arms.length === 0) return out;
    const levels = new Map<string, number[]>();
    for (const [variant, share] of shares) {
      if (share.p50.k === 0) continue;
      levels.set(variant, [...woodruffLevels(0.5, ratioEstimateFromMoments(share.p50)), ...woodruffLevels(0.95, ratioEstimateFromMoments(share.p95))]);
    }
    // Fewer than two users give no variance, and no levels: those percentiles are NaN, as `percentile` makes them.
    const all = [...new Set([...levels.values()].flat())].filter(Number.isFinite);
    const woodruff =
      all.length === 0
        ? []
        : await this.rows<{ variant: string; q: number[] }>(
            `SELECT variant, quantilesExactInclusive(${all.map(sqlFloat).join(', ')})(duration_ms) AS q
             FROM (${this.durations}) WHERE start_ms >= {from:Float64} AND has({names:Array(String)}, variant) GROUP BY variant`,
            { ...params, names: [...levels.keys()] },
          );
    for (const arm of arms) {
      // A variant with no user first served in the window has no moments and no levels: k 0, no standard error.
      const k = shares.get(arm.variant)?.p50.k ?? 0;
      const [low50, high50, low95, high95] = levels.get(arm.variant) ?? [Number.NaN, Number.NaN, Number.NaN, Number.NaN];
      const q = woodruff.find((row) => row.variant === arm.variant)?.q;
      const percentileAt = (level: number) => (Number.isFinite(level) ? q![all.indexOf(level)]! : Number.NaN);
      out.set(arm.variant, {
        p50: arm.q[0]!,
        p95: arm.q[1]!,
        p99: arm.q[2]!,
        distribution: arm.buckets.map((count, i) => ({ upToMs: DISTRIBUTION_BOUNDS_MS[i] ?? null, count: Number(count) })),
        quantiles: {
          p50: percentileEstimate(arm.q[0]!, percentileAt(low50!), percentileAt(high50!), k),
          p95: percentileEstimate(arm.q[1]!, percentileAt(low95!), percentileAt(high95!), k),
        },
      });
    }
    return out;
  }

  /**
   * Clicks naming no request the service served, by the variant they claim ('unknown' when none). An
   * anti-join with the window's clicks on the hash side, the served ids streaming past (measured at
   * 10M spans: 0.24 s of CPU against 0.30 s for `NOT IN` a set of every served id).
   */
  private async unknownRequestClicks(params: Record<string, unknown>): Promise<Record<string, number>> {
    const rows = await this.rows<{ variant: string; n: string }>(
      `SELECT if(has({keys:Array(String)}, {key:String}) AND mapContains(c.attributes, {key:String}), c.attributes[{key:String}], 'unknown') AS variant, count() AS n
       FROM (SELECT request_id FROM ${this.db}.${ANALYSIS_TABLES.served}) s
       RIGHT ANTI JOIN (SELECT request_id, attributes FROM (${this.events})
                        WHERE name = '${CLICK_SPAN}' AND start_ms >= {from:Float64} AND start_ms < {to:Float64}) c ON s.request_id = c.request_id
       GROUP BY variant`,
      params,
    );
    return Object.fromEntries(rows.map((r) => [r.variant, Number(r.n)]));
  }

  /**
   * Downstream spans (the service's spans carrying the variant, except the request spans and the
   * request service's SERVER spans) per variant and name, as log buckets; cache hits and misses.
   * Windowed by the minute, as the SQLite rollup is. One row per span and key, each span once by FINAL.
   */
  private async downstream(params: Record<string, unknown>) {
    const rows = await this.rows<{ variant: string; name: string; bucket: string; n: string; hits: number; misses: number }>(
      `SELECT variant, name, bucket, count() AS n, sum(hits) AS hits, sum(misses) AS misses
       FROM ${this.db}.${ANALYSIS_TABLES.downstream} FINAL
       WHERE key = {key:String} AND minute >= {fromMinute:Int64} AND minute < {toMinute:Int64}
         AND NOT (is_server AND ({requestService:String} = '' OR service = {requestService:String}))
         AND ({hasCohort:UInt8} = 0 OR cohort = {cohort:String})
       GROUP BY variant, name, bucket ORDER BY variant, name, bucket`,
      params,
    );
    return downstreamGroups(rows.map((row) => ({ ...row, bucket: Number(row.bucket), n: Number(row.n) })));
  }

  /** Whose points of a metric count: the service's, or anyone's for the metrics browsers report. */
  private static counts(name: string): string {
    return CLIENT_REPORTED_METRICS.has(name) ? '1' : 'trusted = 1';
  }

  /**
   * The latest point in the window of each cumulative stream of a metric, with `columns`
   * (cumulative points are not rolled up: each stream counts once, by its latest point).
   */
  private cumulativePoints(table: string, name: string, latest: string): string {
    const timeMs = nanosToMs('toUnixTimestamp64Nano(TimeUnix)');
    const anyone = CLIENT_REPORTED_METRICS.has(name) ? 1 : 0;
    return `SELECT any(Attributes[{key:String}]) AS variant, ${latest}
       FROM ${this.db}.${table}
       WHERE MetricName = {name:String} AND AggregationTemporality = 2 AND mapContains(Attributes, {key:String}) AND (${TRUSTED} OR ${anyone} = 1)
         AND ${timeMs} >= {from:Float64} AND ${timeMs} < {to:Float64}
       GROUP BY ResourceAttributes, ScopeName, MetricName, Attributes, StartTimeUnix`;
  }

  /** Σ of a monotonic sum per variant: delta points from the per-minute rollup, and each cumulative stream's latest point. */
  private async metricSums(name: string, params: Record<string, unknown>): Promise<Map<string, number>> {
    const rows = await this.rows<{ variant: string; total: number }>(
      `SELECT variant, sum(total) AS total FROM (
         SELECT variant, total FROM ${this.db}.${ANALYSIS_TABLES.metricSums}
         WHERE name = {name:String} AND key = {key:String} AND ${ClickHouseAnalysisSource.counts(name)}
           AND minute >= {fromMinute:Int64} AND minute < {toMinute:Int64}
         UNION ALL
         ${this.cumulativePoints(EXPORTER_TABLES.sum, name, 'argMax(Value, TimeUnix) AS total')}
       ) GROUP BY variant`,
      { ...params, name },
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

  /** `recommendation.latency` bucket counts summed per variant; points with other bounds than the variant's most common ones are skipped. */
  private async latencyHistograms(params: Record<string, unknown>): Promise<Map<string, { bounds: number[]; counts: number[] }>> {
    const name = LATENCY_METRIC;
    const rows = await this.rows<{ variant: string; bounds: number[]; counts: string[] }>(
      `SELECT variant, bounds, sumForEach(counts) AS counts, sum(points) AS n FROM (
         SELECT variant, bounds, sumForEachMerge(counts) AS counts, sum(points) AS points FROM ${this.db}.${ANALYSIS_TABLES.metricHistograms}
         WHERE name = {name:String} AND key = {key:String} AND ${ClickHouseAnalysisSource.counts(name)}
           AND minute >= {fromMinute:Int64} AND minute < {toMinute:Int64}
         GROUP BY variant, bounds
         UNION ALL
         SELECT variant, bounds, counts, toUInt64(1) AS points FROM (
           ${this.cumulativePoints(EXPORTER_TABLES.histogram, name, 'argMax(BucketCounts, TimeUnix) AS counts, argMax(ExplicitBounds, TimeUnix) AS bounds')}
         ) WHERE length(counts) > 0
       ) GROUP BY variant, bounds ORDER BY variant, n DESC`,
      { ...params, name },
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
