/**
 * The tables of the OpenTelemetry Collector's ClickHouse exporter, as its current version creates
 * them (default settings: MergeTree, no TTL, no cluster, bloom-filter indexes rather than the
 * optional full-text ones). The analysis reads exactly these; in `chdb:` mode the endpoint
 * creates and writes them itself.
 *
 * Source, pinned: open-telemetry/opentelemetry-collector-contrib,
 * `exporter/clickhouseexporter/internal/sqltemplates/`:
 * - `traces_table.sql` at 2bf6b9e1f8c8716ab54eaac1635e56b4d0649900
 * - `traces_id_ts_lookup_table.sql` at 1b08503058e58c68b9175b4d0663d0aaf16b5398
 * - `traces_id_ts_lookup_mv.sql` at 57b29d74154d72320747c8dd2a0b4a1629a39187
 * - `metrics_sum_table.sql` at 8090d3c8ba8acfa230ff78df7528065be6bb2284
 * - `metrics_gauge_table.sql` at e3bd2d1d648f1868f50a8f2c1b68f7ce451ee6eb
 * - `metrics_histogram_table.sql` at 61540ced55e993255df9bcfca48ed89a87d3914f
 * Column names, types, codecs, indexes, partitioning and sort keys are the exporter's;
 * `clickhouse-exporter-rows.test.ts` writes the exporter's own test rows through them and reads
 * back what its integration tests expect.
 * Exponential histograms and summaries are not accepted by the endpoint, so their tables are not created.
 */

/** Table names, the exporter's defaults (`traces_table_name`, `metrics_tables.*`). */
export const EXPORTER_TABLES = {
  traces: 'otel_traces',
  traceIdTs: 'otel_traces_trace_id_ts',
  traceIdTsView: 'otel_traces_trace_id_ts_mv',
  sum: 'otel_metrics_sum',
  gauge: 'otel_metrics_gauge',
  histogram: 'otel_metrics_histogram',
} as const;

/** A ClickHouse identifier, quoted. Database names come from configuration, so they are validated first. */
export function quoteIdentifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`Configuration: CLICKHOUSE_DATABASE is invalid, expected letters, digits and _ (actual: ${name})`);
  return `\`${name}\``;
}

const METRIC_COMMON = `
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ResourceSchemaUrl String CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
    ScopeSchemaUrl String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),`;

const METRIC_POINT = `
    MetricName String CODEC(ZSTD(1)),
    MetricDescription String CODEC(ZSTD(1)),
    MetricUnit String CODEC(ZSTD(1)),
    Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
    TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),`;

/** The exporter's ORDER BY and settings of the gauge, sum and histogram tables. */
const METRIC_ENGINE = `ENGINE = MergeTree()
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1`;

const METRIC_INDEXES = `
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1`;

const EXEMPLARS = (time: string) => `
    Exemplars Nested (
        FilteredAttributes Map(LowCardinality(String), String),
        TimeUnix ${time},
        Value Float64,
        SpanId String,
        TraceId String
    ) CODEC(ZSTD(1)),`;

/** The exporter's CREATE statements for `database`, in the order it runs them. */
export function exporterDdl(database: string): string[] {
  const db = quoteIdentifier(database);
  const t = EXPORTER_TABLES;
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    `CREATE TABLE IF NOT EXISTS ${db}.${t.traces} (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    ResourceAttributeItems Array(String) ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2), CAST(ResourceAttributes, 'Array(Tuple(String, String))')),
    SpanAttributeItems Array(String) ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2), CAST(SpanAttributes, 'Array(Tuple(String, String))')),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1,
    INDEX idx_lower_span_name lower(SpanName) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = MergeTree()
PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1`,
    `CREATE TABLE IF NOT EXISTS ${db}.${t.traceIdTs} (
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
) ENGINE = AggregatingMergeTree()
PARTITION BY toStartOfWeek(Start)
ORDER BY (TraceId)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1`,
    `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.${t.traceIdTsView}
TO ${db}.${t.traceIdTs}
AS SELECT
    TraceId,
    min(Timestamp) as Start,
    max(Timestamp) as End
FROM ${db}.${t.traces}
WHERE TraceId != ''
GROUP BY TraceId`,
    `CREATE TABLE IF NOT EXISTS ${db}.${t.gauge} (${METRIC_COMMON}${METRIC_POINT}
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),${EXEMPLARS('DateTime64(9)')}${METRIC_INDEXES}
) ${METRIC_ENGINE}`,
    `CREATE TABLE IF NOT EXISTS ${db}.${t.sum} (${METRIC_COMMON}${METRIC_POINT}
    Value Float64 CODEC(ZSTD(1)),
    Flags UInt32 CODEC(ZSTD(1)),${EXEMPLARS('DateTime64(9)')}
    AggregationTemporality Int32 CODEC(ZSTD(1)),
    IsMonotonic Boolean CODEC(Delta, ZSTD(1)),${METRIC_INDEXES}
) ${METRIC_ENGINE}`,
    `CREATE TABLE IF NOT EXISTS ${db}.${t.histogram} (${METRIC_COMMON}${METRIC_POINT}
    Count UInt64 CODEC(Delta, ZSTD(1)),
    Sum Float64 CODEC(ZSTD(1)),
    BucketCounts Array(UInt64) CODEC(ZSTD(1)),
    ExplicitBounds Array(Float64) CODEC(ZSTD(1)),${EXEMPLARS('DateTime64(9)')}
    Flags UInt32 CODEC(ZSTD(1)),
    Min Float64 CODEC(ZSTD(1)),
    Max Float64 CODEC(ZSTD(1)),
    AggregationTemporality Int32 CODEC(ZSTD(1)),${METRIC_INDEXES}
) ${METRIC_ENGINE}`,
  ];
}
