-- The tables the variant-lens analysis keeps beside the OpenTelemetry Collector's ClickHouse exporter
-- tables, and the materialized views that fill them on every insert (whoever inserts): served requests,
-- browser events and downstream spans (one row per span and attribute key, its duration bucketed) from
-- otel_traces, delta metric rollups per minute from otel_metrics_sum and otel_metrics_histogram.
-- The analysis creates them itself on its first read when its user may (CREATE TABLE, CREATE VIEW,
-- INSERT); otherwise run this once per database (here `otel`, after the exporter created its tables),
-- then backfill each table with what was stored before its view: INSERT INTO otel.<table> followed by
-- the view's SELECT. The first statements drop what an earlier version created and nothing reads.
-- Generated from server/src/analysis/clickhouse/analysis-tables.ts (analysisDdl('otel')); a test
-- keeps the two equal.

DROP VIEW IF EXISTS `otel`.variant_lens_downstream_spans_mv;

DROP TABLE IF EXISTS `otel`.variant_lens_downstream_spans;

CREATE TABLE IF NOT EXISTS `otel`.variant_lens_served_requests (request_id String, start_ms Float64, duration_ms Float64, error UInt8, user String, cohort String, forced UInt8,
      claims Map(LowCardinality(String), String), has_ids UInt8, content_ids Array(String), served_count UInt64,
      cache_hits Float64, cache_misses Float64, session String) ENGINE = ReplacingMergeTree ORDER BY request_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.variant_lens_served_requests_mv TO `otel`.variant_lens_served_requests AS SELECT SpanAttributes['recommendation.request_id'] AS request_id, (toFloat64(intDiv(toUnixTimestamp64Nano(Timestamp), 1000000)) + toFloat64(toUnixTimestamp64Nano(Timestamp) % 1000000) / 1e6) AS start_ms, (toFloat64(intDiv((toUnixTimestamp64Nano(Timestamp) + toInt64(Duration)), 1000000)) + toFloat64((toUnixTimestamp64Nano(Timestamp) + toInt64(Duration)) % 1000000) / 1e6) - (toFloat64(intDiv(toUnixTimestamp64Nano(Timestamp), 1000000)) + toFloat64(toUnixTimestamp64Nano(Timestamp) % 1000000) / 1e6) AS duration_ms,
        StatusCode = 'Error' AS error, SpanAttributes['user.id'] AS user, SpanAttributes['user.cohort'] AS cohort,
        SpanAttributes['experiment.forced'] = 'true' AS forced,
        mapFilter((k, v) -> k NOT IN ('recommendation.request_id', 'user.id', 'user.cohort', 'experiment.forced', 'recommendation.content_ids', 'recommendation.count', 'cache.hits', 'cache.misses', 'session.id'), SpanAttributes) AS claims,
        isValidJSON(SpanAttributes['recommendation.content_ids']) AS has_ids, JSONExtract(SpanAttributes['recommendation.content_ids'], 'Array(String)') AS content_ids,
        toUInt64(if(mapContains(SpanAttributes, 'recommendation.count'), greatest(0, floor(toFloat64OrZero(SpanAttributes['recommendation.count']))), toFloat64(length(content_ids)))) AS served_count,
        toFloat64OrZero(SpanAttributes['cache.hits']) AS cache_hits, toFloat64OrZero(SpanAttributes['cache.misses']) AS cache_misses,
        SpanAttributes['session.id'] AS session
      FROM `otel`.otel_traces
      WHERE SpanName = 'recommendation.request' AND ResourceAttributes['variant_lens.source'] = 'service' AND SpanAttributes['recommendation.request_id'] != '';

CREATE TABLE IF NOT EXISTS `otel`.variant_lens_browser_events (request_id String, span_key UInt64, name LowCardinality(String), content_id String, claims Map(LowCardinality(String), String), start_ms Float64,
      session String) ENGINE = ReplacingMergeTree ORDER BY (request_id, span_key);

CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.variant_lens_browser_events_mv TO `otel`.variant_lens_browser_events AS SELECT SpanAttributes['recommendation.request_id'] AS request_id, cityHash64(TraceId, SpanId) AS span_key, SpanName AS name,
        SpanAttributes['content.id'] AS content_id, mapFilter((k, v) -> k NOT IN ('recommendation.request_id', 'content.id', 'session.id'), SpanAttributes) AS claims, (toFloat64(intDiv(toUnixTimestamp64Nano(Timestamp), 1000000)) + toFloat64(toUnixTimestamp64Nano(Timestamp) % 1000000) / 1e6) AS start_ms,
        if(mapContains(SpanAttributes, 'session.id'), SpanAttributes['session.id'], ResourceAttributes['session.id']) AS session
      FROM `otel`.otel_traces
      WHERE NOT (ResourceAttributes['variant_lens.source'] = 'service') AND mapContains(SpanAttributes, 'recommendation.request_id');

CREATE TABLE IF NOT EXISTS `otel`.variant_lens_downstream_by_key (key LowCardinality(String), variant LowCardinality(String), cohort LowCardinality(String), name LowCardinality(String), service LowCardinality(String), is_server UInt8,
      minute Int64, bucket Int64, hits Float64, misses Float64, span_key UInt64) ENGINE = ReplacingMergeTree ORDER BY (key, minute, span_key);

CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.variant_lens_downstream_by_key_mv TO `otel`.variant_lens_downstream_by_key AS SELECT key, SpanAttributes[key] AS variant, SpanAttributes['user.cohort'] AS cohort, SpanName AS name, ServiceName AS service,
        SpanKind = 'Server' AS is_server, toInt64(floor((toFloat64(intDiv(toUnixTimestamp64Nano(Timestamp), 1000000)) + toFloat64(toUnixTimestamp64Nano(Timestamp) % 1000000) / 1e6) / 60000)) AS minute,
        toInt64(floor(log(greatest((toFloat64(intDiv((toUnixTimestamp64Nano(Timestamp) + toInt64(Duration)), 1000000)) + toFloat64((toUnixTimestamp64Nano(Timestamp) + toInt64(Duration)) % 1000000) / 1e6) - (toFloat64(intDiv(toUnixTimestamp64Nano(Timestamp), 1000000)) + toFloat64(toUnixTimestamp64Nano(Timestamp) % 1000000) / 1e6), 0.001)) * 50 + 0.5)) AS bucket,
        toFloat64OrZero(SpanAttributes['cache.hits']) AS hits, toFloat64OrZero(SpanAttributes['cache.misses']) AS misses, cityHash64(TraceId, SpanId) AS span_key
      FROM `otel`.otel_traces ARRAY JOIN arrayFilter(k -> k NOT IN ('user.cohort', 'cache.hits', 'cache.misses'), mapKeys(SpanAttributes)) AS key
      WHERE ResourceAttributes['variant_lens.source'] = 'service' AND SpanName != 'recommendation.request' AND SpanAttributes['experiment.forced'] != 'true';

CREATE TABLE IF NOT EXISTS `otel`.variant_lens_metric_sums (name String, key LowCardinality(String), variant String, trusted UInt8, minute Int64, total Float64) ENGINE = SummingMergeTree ORDER BY (name, key, trusted, minute, variant);

CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.variant_lens_metric_sums_mv TO `otel`.variant_lens_metric_sums AS SELECT MetricName AS name, key, Attributes[key] AS variant, ResourceAttributes['variant_lens.source'] = 'service' AS trusted, toInt64(floor((toFloat64(intDiv(toUnixTimestamp64Nano(TimeUnix), 1000000)) + toFloat64(toUnixTimestamp64Nano(TimeUnix) % 1000000) / 1e6) / 60000)) AS minute, Value AS total
      FROM `otel`.otel_metrics_sum ARRAY JOIN mapKeys(Attributes) AS key
      WHERE AggregationTemporality = 1;

CREATE TABLE IF NOT EXISTS `otel`.variant_lens_metric_histograms (name String, key LowCardinality(String), variant String, trusted UInt8, minute Int64, bounds Array(Float64),
      counts AggregateFunction(sumForEach, Array(UInt64)), points SimpleAggregateFunction(sum, UInt64)) ENGINE = AggregatingMergeTree ORDER BY (name, key, trusted, minute, variant, bounds);

CREATE MATERIALIZED VIEW IF NOT EXISTS `otel`.variant_lens_metric_histograms_mv TO `otel`.variant_lens_metric_histograms AS SELECT MetricName AS name, key, Attributes[key] AS variant, ResourceAttributes['variant_lens.source'] = 'service' AS trusted, toInt64(floor((toFloat64(intDiv(toUnixTimestamp64Nano(TimeUnix), 1000000)) + toFloat64(toUnixTimestamp64Nano(TimeUnix) % 1000000) / 1e6) / 60000)) AS minute,
        ExplicitBounds AS bounds, sumForEachState(BucketCounts) AS counts, toUInt64(count()) AS points
      FROM `otel`.otel_metrics_histogram ARRAY JOIN mapKeys(Attributes) AS key
      WHERE AggregationTemporality = 1 AND length(BucketCounts) > 0
      GROUP BY name, key, variant, trusted, minute, bounds;
