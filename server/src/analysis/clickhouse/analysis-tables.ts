/**
 * The tables the ClickHouse analysis keeps beside the exporter's, and the materialized views
 * that fill them as rows arrive — whoever inserts them (the OpenTelemetry Collector's exporter,
 * or the endpoint itself in `chdb:` mode). Map lookups, the JSON of the served ids, the
 * nanosecond arithmetic and the duration buckets are done once, at insert, instead of on every
 * read of every span:
 * - `variant_lens_served_requests`: the service's `recommendation.request` spans (the served lists);
 * - `variant_lens_browser_events`: spans from anyone else naming a request (views, clicks);
 * - `variant_lens_downstream_by_key`: the service's other spans, one row per attribute key;
 * - `variant_lens_metric_sums`, `variant_lens_metric_histograms`: delta metric points summed per minute.
 *
 * No configuration goes into them (which attribute keys are experiments is decided when reading),
 * and no judgement: the attribution stays in the queries, applied to the rows of one read.
 * Duplicates are harmless where they could count: an exporter's retry, or a backfill overlapping
 * the view, writes a span twice, and the queries keep each request and each span once (FINAL on
 * ReplacingMergeTree) — which is why spans are not rolled up into sums. The metric rollups sum
 * the points as the exporter's tables hold them, as reading the points did.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { ATTRIBUTION_ATTRIBUTES } from '../../core/request-attribution.js';
import { SOURCE_ATTRIBUTE, SOURCE_SERVICE } from '../../core/otlp-encode.js';
import { EXPORTER_TABLES, quoteIdentifier } from '../../clickhouse/exporter-schema.js';
import { DURATION_BUCKETS_PER_E } from '../../store/analysis-store.js';

/** Names of the analysis tables (each filled by the view of the same name with `_mv` appended). */
export const ANALYSIS_TABLES = {
  served: 'variant_lens_served_requests',
  events: 'variant_lens_browser_events',
  downstream: 'variant_lens_downstream_by_key',
  metricSums: 'variant_lens_metric_sums',
  metricHistograms: 'variant_lens_metric_histograms',
} as const;

/** Log buckets per factor e of the downstream durations, as the SQLite rollup keeps them. */
export const DOWNSTREAM_BUCKETS_PER_E = DURATION_BUCKETS_PER_E;

const REQUEST_SPAN = 'recommendation.request';
const CACHE_HITS = 'cache.hits';
const CACHE_MISSES = 'cache.misses';

/** Nanoseconds (Int64) to ms as `nanosToMillis` computes them: whole ms plus the remainder, in doubles. */
export const nanosToMs = (nanos: string) => `(toFloat64(intDiv(${nanos}, 1000000)) + toFloat64(${nanos} % 1000000) / 1e6)`;
const START_NS = 'toUnixTimestamp64Nano(Timestamp)';
const START_MS = nanosToMs(START_NS);
const END_MS = nanosToMs(`(${START_NS} + toInt64(Duration))`);
/** A span of the deployment's own services: its resource was marked by the collection endpoint. */
export const TRUSTED = `ResourceAttributes['${SOURCE_ATTRIBUTE}'] = '${SOURCE_SERVICE}'`;
/** Once per span whatever its ids' length: a 64-bit hash of trace and span id. */
const SPAN_KEY = 'cityHash64(TraceId, SpanId)';

const a = ATTRIBUTION_ATTRIBUTES;
/** Attributes of a span minus `keys` (those the table keeps in columns of their own). */
const without = (keys: readonly string[]) => `mapFilter((k, v) -> k NOT IN (${keys.map((k) => `'${k}'`).join(', ')}), SpanAttributes)`;

interface AnalysisTable {
  readonly name: string;
  readonly columns: string;
  readonly engine: string;
  /** The exporter's table the view reads (`otel_traces` unless said). */
  readonly source?: keyof typeof EXPORTER_TABLES;
  /** The view's SELECT from the source table (also the backfill's). */
  readonly select: (source: string) => string;
}

/** A metric point's time in ms, as `nanosToMillis` computes it. */
const POINT_MS = nanosToMs('toUnixTimestamp64Nano(TimeUnix)');

const TABLES: readonly AnalysisTable[] = [
  {
    name: ANALYSIS_TABLES.served,
    columns: `request_id String, start_ms Float64, duration_ms Float64, error UInt8, user String, cohort String, forced UInt8,
      claims Map(LowCardinality(String), String), has_ids UInt8, content_ids Array(String), served_count UInt64,
      cache_hits Float64, cache_misses Float64, session String`,
    engine: 'ReplacingMergeTree ORDER BY request_id',
    // `claims`: every other string attribute; which of them are experiments is decided when reading.
    select: (traces) => `SELECT SpanAttributes['${a.requestId}'] AS request_id, ${START_MS} AS start_ms, ${END_MS} - ${START_MS} AS duration_ms,
        StatusCode = 'Error' AS error, SpanAttributes['${a.userId}'] AS user, SpanAttributes['${a.cohort}'] AS cohort,
        SpanAttributes['${a.forced}'] = 'true' AS forced,
        ${without([a.requestId, a.userId, a.cohort, a.forced, a.contentIds, a.count, CACHE_HITS, CACHE_MISSES, a.sessionId])} AS claims,
        isValidJSON(SpanAttributes['${a.contentIds}']) AS has_ids, JSONExtract(SpanAttributes['${a.contentIds}'], 'Array(String)') AS content_ids,
        toUInt64(if(mapContains(SpanAttributes, '${a.count}'), greatest(0, floor(toFloat64OrZero(SpanAttributes['${a.count}']))), toFloat64(length(content_ids)))) AS served_count,
        toFloat64OrZero(SpanAttributes['${CACHE_HITS}']) AS cache_hits, toFloat64OrZero(SpanAttributes['${CACHE_MISSES}']) AS cache_misses,
        SpanAttributes['${a.sessionId}'] AS session
      FROM ${traces}
      WHERE SpanName = '${REQUEST_SPAN}' AND ${TRUSTED} AND SpanAttributes['${a.requestId}'] != ''`,
  },
  {
    name: ANALYSIS_TABLES.events,
    columns: `request_id String, span_key UInt64, name LowCardinality(String), content_id String, claims Map(LowCardinality(String), String), start_ms Float64,
      session String`,
    engine: 'ReplacingMergeTree ORDER BY (request_id, span_key)',
    // `session`: the visit's `session.id`, the span's own or else its resource's (where the browser SDK puts it).
    select: (traces) => `SELECT SpanAttributes['${a.requestId}'] AS request_id, ${SPAN_KEY} AS span_key, SpanName AS name,
        SpanAttributes['${a.contentId}'] AS content_id, ${without([a.requestId, a.contentId, a.sessionId])} AS claims, ${START_MS} AS start_ms,
        if(mapContains(SpanAttributes, '${a.sessionId}'), SpanAttributes['${a.sessionId}'], ResourceAttributes['${a.sessionId}']) AS session
      FROM ${traces}
      WHERE NOT (${TRUSTED}) AND mapContains(SpanAttributes, '${a.requestId}')`,
  },
  {
    // One row per downstream span and attribute key (the experiments' keys among them: which are is
    // decided when reading), its duration already in the log bucket the SQLite rollup uses, so the
    // read takes one key's rows by the sort key and reads no map. Once per span by FINAL: an
    // exporter's retry can write a span twice, and a duplicate must not count twice.
    name: ANALYSIS_TABLES.downstream,
    columns: `key LowCardinality(String), variant LowCardinality(String), cohort LowCardinality(String), name LowCardinality(String), service LowCardinality(String), is_server UInt8,
      minute Int64, bucket Int64, hits Float64, misses Float64, span_key UInt64`,
    engine: 'ReplacingMergeTree ORDER BY (key, minute, span_key)',
    // A forced (QA) visitor's work is not its variant's (the exporter writes booleans as 'true').
    select: (traces) => `SELECT key, SpanAttributes[key] AS variant, SpanAttributes['${a.cohort}'] AS cohort, SpanName AS name, ServiceName AS service,
        SpanKind = 'Server' AS is_server, toInt64(floor(${START_MS} / 60000)) AS minute,
        toInt64(floor(log(greatest(${END_MS} - ${START_MS}, 0.001)) * ${DOWNSTREAM_BUCKETS_PER_E} + 0.5)) AS bucket,
        toFloat64OrZero(SpanAttributes['${CACHE_HITS}']) AS hits, toFloat64OrZero(SpanAttributes['${CACHE_MISSES}']) AS misses, ${SPAN_KEY} AS span_key
      FROM ${traces} ARRAY JOIN arrayFilter(k -> k NOT IN ('${a.cohort}', '${CACHE_HITS}', '${CACHE_MISSES}'), mapKeys(SpanAttributes)) AS key
      WHERE ${TRUSTED} AND SpanName != '${REQUEST_SPAN}' AND SpanAttributes['${a.forced}'] != 'true'`,
  },
  {
    // Delta sums per minute, metric, attribute key and value, and source: the read sums a few cells per
    // minute instead of every point. Summed as the exporter's table holds them: a point written twice
    // counts twice, as it does when the points are read directly.
    name: ANALYSIS_TABLES.metricSums,
    columns: 'name String, key LowCardinality(String), variant String, trusted UInt8, minute Int64, total Float64',
    engine: 'SummingMergeTree ORDER BY (name, key, trusted, minute, variant)',
    source: 'sum',
    select: (sums) => `SELECT MetricName AS name, key, Attributes[key] AS variant, ${TRUSTED} AS trusted, toInt64(floor(${POINT_MS} / 60000)) AS minute, Value AS total
      FROM ${sums} ARRAY JOIN mapKeys(Attributes) AS key
      WHERE AggregationTemporality = 1`,
  },
  {
    // Delta histograms likewise: bucket counts summed per minute, key, value, source and bounds, with
    // how many points went in (the read prefers a variant's most common bounds).
    name: ANALYSIS_TABLES.metricHistograms,
    columns: `name String, key LowCardinality(String), variant String, trusted UInt8, minute Int64, bounds Array(Float64),
      counts AggregateFunction(sumForEach, Array(UInt64)), points SimpleAggregateFunction(sum, UInt64)`,
    engine: 'AggregatingMergeTree ORDER BY (name, key, trusted, minute, variant, bounds)',
    source: 'histogram',
    select: (histograms) => `SELECT MetricName AS name, key, Attributes[key] AS variant, ${TRUSTED} AS trusted, toInt64(floor(${POINT_MS} / 60000)) AS minute,
        ExplicitBounds AS bounds, sumForEachState(BucketCounts) AS counts, toUInt64(count()) AS points
      FROM ${histograms} ARRAY JOIN mapKeys(Attributes) AS key
      WHERE AggregationTemporality = 1 AND length(BucketCounts) > 0
      GROUP BY name, key, variant, trusted, minute, bounds`,
  },
];

/**
 * What an earlier version created and nothing reads any more (the downstream spans with their
 * attribute map, before `variant_lens_downstream_by_key`): dropped, view first, so that it stops
 * costing every insert.
 */
const RETIRED = [
  ['VIEW', 'variant_lens_downstream_spans_mv'],
  ['TABLE', 'variant_lens_downstream_spans'],
] as const;

function sourceOf(db: string, table: AnalysisTable): string {
  return `${db}.${EXPORTER_TABLES[table.source ?? 'traces']}`;
}

/**
 * The DDL of the analysis tables and their views for `database`, in order: what `ensureAnalysisTables`
 * creates (it creates a missing view without `IF NOT EXISTS`), and what a team runs by hand when the analysis may not create tables (then backfill each
 * table once with `INSERT INTO <table> <the view's SELECT>` for spans stored before the views).
 */
export function analysisDdl(database: string): string[] {
  const db = quoteIdentifier(database);
  return [...RETIRED.map(([kind, name]) => `DROP ${kind} IF EXISTS ${db}.${name}`), ...tableDdl(db)];
}

function tableDdl(db: string): string[] {
  return TABLES.flatMap((t) => [createTable(db, t), createView(db, t, 'IF NOT EXISTS ')]);
}

function createTable(db: string, t: AnalysisTable): string {
  return `CREATE TABLE IF NOT EXISTS ${db}.${t.name} (${t.columns}) ENGINE = ${t.engine}`;
}

function createView(db: string, t: AnalysisTable, ifNotExists: 'IF NOT EXISTS ' | ''): string {
  return `CREATE MATERIALIZED VIEW ${ifNotExists}${db}.${t.name}_mv TO ${db}.${t.name} AS ${t.select(sourceOf(db, t))}`;
}

/**
 * Creates the analysis tables and their views in `database` when missing, and fills a table
 * whose view it created with the rows already in the exporter's tables (those stored before the
 * view existed). Idempotent, and safe for replicas starting at once: a missing view is created
 * without `IF NOT EXISTS`, which exactly one of them can do, and only that one fills its table —
 * two fills would count every metric point stored before the rollups twice. The fill empties
 * the table first and reads the exporter's table as it stands, so it is whole whatever the table
 * held; if it fails, the view is dropped again and the next read makes it and fills the table
 * anew. A row inserted between the view's creation and the fill's read (one batch at most) is
 * written twice: reads ignore that for spans (one row per span, FINAL), but a metric point
 * counts twice, as a point the exporter resends does. Other replicas read meanwhile, without
 * the rows from before until the fill is done.
 */
export async function ensureAnalysisTables(client: ClickHouseClient, database: string): Promise<void> {
  const db = quoteIdentifier(database);
  for (const [kind, name] of RETIRED) await client.command({ query: `DROP ${kind} IF EXISTS ${db}.${name}` });
  for (const table of TABLES) {
    await client.command({ query: createTable(db, table) });
    const existing = await client.query({ query: `EXISTS TABLE ${db}.${table.name}_mv`, format: 'JSONEachRow' });
    const [row] = await existing.json<{ result: number | string }>();
    if (Number(row?.result) !== 0 || !(await createdHere(client, createView(db, table, '')))) continue;
    // From here every insert reaches the table through the view; the fill adds what came before.
    try {
      await client.command({ query: `TRUNCATE TABLE ${db}.${table.name}` });
      await client.command({ query: `INSERT INTO ${db}.${table.name} ${table.select(sourceOf(db, table))}` });
    } catch (error) {
      await client.command({ query: `DROP VIEW IF EXISTS ${db}.${table.name}_mv` }).catch(() => undefined);
      throw error;
    }
  }
}

/** Runs a `CREATE` without `IF NOT EXISTS`: true when this call made it, false when another had. */
async function createdHere(client: ClickHouseClient, statement: string): Promise<boolean> {
  try {
    await client.command({ query: statement });
    return true;
  } catch (error) {
    if ((error as { type?: unknown }).type === 'TABLE_ALREADY_EXISTS') return false;
    throw error;
  }
}
