import { readFileSync } from 'node:fs';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClickHouse } from '../src/clickhouse/clickhouse-connection.js';
import { ClickHouseWriter } from '../src/clickhouse/clickhouse-writer.js';
import { formatGoFloat, metricRows, spanRecordRow, traceRows, valueAsString } from '../src/clickhouse/exporter-rows.js';
import { encodeTraceRequest } from '../src/core/otlp-encode.js';
import type { SpanRecord } from '../src/core/telemetry-records.js';
import { tempDir } from './helpers.js';

interface Cases {
  traces: { request: unknown; expected: Record<string, unknown> };
  metrics: {
    request: unknown;
    expectedCommon: Record<string, unknown>;
    expectedGauge: Record<string, unknown>;
    expectedSum: Record<string, unknown>;
    expectedHistogram: Record<string, unknown>;
  };
}

const cases = JSON.parse(readFileSync(new URL('./fixtures/clickhouse-exporter-cases.json', import.meta.url), 'utf8')) as Cases;

/** Plain objects, so that attribute maps (made without a prototype) compare with the fixture's. */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

describe('OTLP to the exporter rows, against the exporter’s own test expectations', () => {
  it('maps a span as verifyExportTraces expects', () => {
    expect(plain(traceRows(cases.traces.request))).toEqual([cases.traces.expected]);
  });

  it('maps gauge, sum and histogram points as verifyGaugeMetric, verifySumMetric and verifyHistogramMetric expect', () => {
    const rows = plain(metricRows(cases.metrics.request));
    const m = cases.metrics;
    expect(rows.gauge).toEqual([{ ...m.expectedCommon, ...m.expectedGauge }]);
    expect(rows.sum).toEqual([{ ...m.expectedCommon, ...m.expectedSum }]);
    expect(rows.histogram).toEqual([{ ...m.expectedCommon, ...m.expectedHistogram }]);
  });

  it.each([
    [{ stringValue: 'a' }, 'a'],
    [{ boolValue: true }, 'true'],
    [{ intValue: '9007199254740993' }, '9007199254740993'],
    [{ doubleValue: 1.5 }, '1.5'],
    [{ doubleValue: 1e21 }, '1000000000000000000000'],
    [{ doubleValue: 1e-7 }, '0.0000001'],
    [{ doubleValue: 3 }, '3'],
    [{ bytesValue: 'AQI=' }, 'AQI='],
    [{ arrayValue: { values: [{ stringValue: 'x' }, { intValue: '2' }] } }, '["x",2]'],
    [{ kvlistValue: { values: [{ key: 'b', value: { boolValue: false } }, { key: 'a', value: { doubleValue: 0.5 } }] } }, '{"a":0.5,"b":false}'],
    [{}, ''],
  ])('writes %j as pcommon.Value.AsString does: %s', (value, expected) => {
    expect(valueAsString(value)).toBe(expected);
  });

  it('formats floats without exponents, as strconv.FormatFloat(f, f, -1, 64)', () => {
    expect(formatGoFloat(-2.5e-10)).toBe('-0.00000000025');
    expect(formatGoFloat(1.234e25)).toBe('12340000000000000000000000');
    expect(formatGoFloat(Number.NaN)).toBe('NaN');
    expect(formatGoFloat(-Infinity)).toBe('-Inf');
  });

  it('writes an all-zero parent span id as empty, as TraceIDToHexOrEmptyString does', () => {
    const request = structuredClone(cases.traces.request) as { resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[] };
    request.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.parentSpanId = '0000000000000000';
    expect(traceRows(request)[0]!.ParentSpanId).toBe('');
  });
});

describe('a stored span straight to its row (the benchmark fill), as the endpoint’s path maps it', () => {
  const base: SpanRecord = {
    traceId: '0AF7651916CD43DD8448EB211C80319C',
    spanId: 'B7AD6B7169203331',
    parentSpanId: null,
    name: 'recommendation.request',
    kind: 1,
    service: 'recommendation-service',
    scope: 'variant-lens',
    startTimeUnixNano: '1795000000000000123',
    endTimeUnixNano: '1795000000004500456',
    statusCode: 0,
    statusMessage: '',
    attributes: {},
    events: [],
    links: [],
    trusted: true,
  };
  it.each<[string, Partial<SpanRecord>]>([
    ['a request span of the service', { attributes: { 'experiment.rec_algorithm': 'hybrid', 'recommendation.count': 8, 'user.id': 'u1' } }],
    ['a browser click with a parent, an error status and every value type', {
      trusted: false, service: 'content-site', parentSpanId: '00F067AA0BA902B7', kind: 3, statusCode: 2, statusMessage: 'boom',
      attributes: { s: 'x', i: 9007199254740991, big: 1e21, d: 0.1, tiny: 1e-7, t: true, n: null, list: ['a', 2, false], kv: { b: 1, a: 'z' } },
    }],
    ['events and links', {
      events: [{ name: 'exception', timeUnixNano: '1795000000001000000', attributes: { 'exception.message': 'x', code: 3 } }],
      links: [{ traceId: '00000000000000000000000000000001', spanId: '0000000000000002', attributes: { 'link.kind': 'click' } }],
    }],
    ['an all-zero parent, an unknown kind and a span that ends before it starts', { parentSpanId: '0000000000000000', kind: 9, statusCode: 7, endTimeUnixNano: '1795000000000000000' }],
  ])('%s', (_name, change) => {
    const span = { ...base, ...change };
    expect(plain(spanRecordRow(span))).toEqual(plain(traceRows(encodeTraceRequest([span]))[0]));
  });
});

describe('the exporter tables on ClickHouse (chdb)', () => {
  let client: ClickHouseClient;
  let writer: ClickHouseWriter;

  beforeAll(async () => {
    client = openClickHouse({ url: `chdb:${tempDir('chdb-rows')}`, database: 'otel' });
    writer = new ClickHouseWriter(client, 'otel');
    await writer.ensureSchema();
  });
  afterAll(async () => {
    await client?.close();
  });

  it('holds the exporter’s rows exactly: what ClickHouse reads back is what the exporter’s test expects', async () => {
    expect(await writer.writeTraces(cases.traces.request)).toBe(1);
    const result = await client.query({
      query: `SELECT * EXCEPT (Timestamp, \`Events.Timestamp\`), toString(toUnixTimestamp64Nano(Timestamp)) AS Timestamp,
                arrayMap(t -> toString(toUnixTimestamp64Nano(t)), \`Events.Timestamp\`) AS \`Events.Timestamp\`
              FROM otel.otel_traces`,
      format: 'JSONEachRow',
    });
    expect(await result.json()).toEqual([cases.traces.expected]);

    expect(await writer.writeMetrics(cases.metrics.request)).toBe(3);
    const nanos = `* EXCEPT (StartTimeUnix, TimeUnix, \`Exemplars.TimeUnix\`), toString(toUnixTimestamp64Nano(StartTimeUnix)) AS StartTimeUnix,
      toString(toUnixTimestamp64Nano(TimeUnix)) AS TimeUnix, arrayMap(t -> toString(toUnixTimestamp64Nano(t)), \`Exemplars.TimeUnix\`) AS \`Exemplars.TimeUnix\``;
    const m = cases.metrics;
    for (const [table, expected] of [
      ['otel_metrics_gauge', m.expectedGauge],
      ['otel_metrics_sum', m.expectedSum],
      ['otel_metrics_histogram', m.expectedHistogram],
    ] as const) {
      const rows = await (await client.query({ query: `SELECT ${nanos} FROM otel.${table}`, format: 'JSONEachRow' })).json();
      expect(rows, table).toEqual([{ ...m.expectedCommon, ...expected }]);
    }
  });

  it('creates the tables the exporter creates, with its sort keys and bloom-filter indexes', async () => {
    const tables = await (
      await client.query({ query: `SELECT name, sorting_key FROM system.tables WHERE database = 'otel' ORDER BY name`, format: 'JSONEachRow' })
    ).json<{ name: string; sorting_key: string }>();
    expect(tables.map((t) => t.name)).toEqual(['otel_metrics_gauge', 'otel_metrics_histogram', 'otel_metrics_sum', 'otel_traces', 'otel_traces_trace_id_ts', 'otel_traces_trace_id_ts_mv']);
    expect(tables.find((t) => t.name === 'otel_traces')!.sorting_key).toBe('ServiceName, SpanName, toDateTime(Timestamp), Timestamp');
    const indexes = await (
      await client.query({ query: `SELECT name, type_full FROM system.data_skipping_indices WHERE database = 'otel' AND table = 'otel_traces' ORDER BY name`, format: 'JSONEachRow' })
    ).json<{ name: string; type_full: string }>();
    expect(indexes).toContainEqual({ name: 'idx_span_attr_key', type_full: 'bloom_filter(0.01)' });
    expect(indexes).toContainEqual({ name: 'idx_trace_id', type_full: 'bloom_filter(0.001)' });
    // The exporter's lookup table is filled by its materialized view.
    const lookup = await (await client.query({ query: 'SELECT TraceId FROM otel.otel_traces_trace_id_ts', format: 'JSONEachRow' })).json();
    expect(lookup).toEqual([{ TraceId: '01020300000000000000000000000000' }]);
  });
});
