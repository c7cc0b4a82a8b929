import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DECODE_LIMITS,
  MAX_STREAM_RESOURCE_CHARS,
  MalformedOtlpError,
  RESOURCE_ATTRIBUTES_DROPPED,
  decodeMetricsRequest,
  decodeTraceRequest,
  type DecodeLimits,
  type DecodeResult,
} from '../src/core/otlp-json.js';
import type { MetricPointRecord, SpanRecord } from '../src/core/telemetry-records.js';

const TRACE_ID = '5b8efff798038103d269b633813fc60c';
const SPAN_ID = 'eee19b7ec3c1b174';
const PARENT_SPAN_ID = 'eee19b7ec3c1b173';
const REQUEST_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const REQUEST_SPAN_ID = 'b7ad6b7169203331';
const START = '1767225600000000000';
const END = '1767225600123456789';

const str = (stringValue: string) => ({ stringValue });

/** A click span as the browser SDK's OTLP/JSON exporter sends it. */
function clickSpan(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    traceId: TRACE_ID,
    spanId: SPAN_ID,
    parentSpanId: PARENT_SPAN_ID,
    name: 'recommendation.click',
    kind: 1,
    startTimeUnixNano: START,
    endTimeUnixNano: END,
    attributes: [
      { key: 'experiment.rec_algorithm', value: str('hybrid') },
      { key: 'recommendation.position', value: { intValue: '3' } },
      { key: 'recommendation.count', value: { intValue: 10 } },
      { key: 'big.int', value: { intValue: '9007199254740993' } },
      { key: 'latency.ratio', value: { doubleValue: 0.25 } },
      { key: 'latency.ratio_as_string', value: { doubleValue: '1.5' } },
      { key: 'cache.hit', value: { boolValue: false } },
      { key: 'payload', value: { bytesValue: 'AQID' } },
      {
        key: 'tags',
        value: { arrayValue: { values: [str('a'), { intValue: '2' }, { boolValue: true }, { doubleValue: 2.5 }] } },
      },
      {
        key: 'context',
        value: {
          kvlistValue: {
            values: [
              { key: 'page', value: str('/article/a00001') },
              { key: 'nested', value: { arrayValue: { values: [{ intValue: '1' }] } } },
            ],
          },
        },
      },
      { key: 'empty', value: {} },
      { key: 'missing' },
    ],
    events: [
      {
        timeUnixNano: '1767225600000000500',
        name: 'click.dispatched',
        attributes: [{ key: 'button', value: { intValue: '0' } }],
      },
    ],
    links: [
      {
        traceId: REQUEST_TRACE_ID,
        spanId: REQUEST_SPAN_ID,
        attributes: [{ key: 'link.kind', value: str('served-list') }],
      },
    ],
    status: { code: 2, message: 'navigation aborted' },
    ...overrides,
  };
}

function traceRequest(...spans: unknown[]): Record<string, unknown> {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: str('content-site') }] },
        scopeSpans: [{ scope: { name: 'variant-lens-sdk', version: '0.1.0' }, spans }],
      },
    ],
  };
}

const EXPECTED_CLICK: SpanRecord = {
  traceId: TRACE_ID,
  spanId: SPAN_ID,
  parentSpanId: PARENT_SPAN_ID,
  name: 'recommendation.click',
  kind: 1,
  service: 'content-site',
  scope: 'variant-lens-sdk',
  startTimeUnixNano: START,
  endTimeUnixNano: END,
  statusCode: 2,
  statusMessage: 'navigation aborted',
  attributes: {
    'experiment.rec_algorithm': 'hybrid',
    'recommendation.position': 3,
    'recommendation.count': 10,
    // Beyond 2^53 the integer is kept as its exact decimal string.
    'big.int': '9007199254740993',
    'latency.ratio': 0.25,
    'latency.ratio_as_string': 1.5,
    'cache.hit': false,
    payload: 'AQID',
    tags: ['a', 2, true, 2.5],
    context: { page: '/article/a00001', nested: [1] },
    empty: null,
    missing: null,
  },
  events: [{ name: 'click.dispatched', timeUnixNano: '1767225600000000500', attributes: { button: 0 } }],
  links: [{ traceId: REQUEST_TRACE_ID, spanId: REQUEST_SPAN_ID, attributes: { 'link.kind': 'served-list' } }],
  trusted: false,
};

/** The result without the decoder's internal bookkeeping, for whole-value comparison. */
function plain<T>(result: DecodeResult<T>): DecodeResult<T> {
  return { items: result.items, rejected: result.rejected, errors: result.errors };
}

const SMALL_LIMITS: DecodeLimits = { maxAttributes: 2, maxValueLength: 5, maxDepth: 2, maxEventsOrLinks: 1 };

describe('decodeTraceRequest', () => {
  it('decodes a realistic OTLP/JSON request into exactly the expected record', () => {
    const result = decodeTraceRequest(traceRequest(clickSpan()), { trusted: false });
    expect(plain(result)).toEqual({ items: [EXPECTED_CLICK], rejected: 0, errors: [] });
  });

  it('marks the records with the trust of the caller', () => {
    const [span] = decodeTraceRequest(traceRequest(clickSpan()), { trusted: true }).items;
    expect(span?.trusted).toBe(true);
  });

  it('lower-cases upper-case hex ids and turns an empty or all-zero parent into null', () => {
    const upper = decodeTraceRequest(
      traceRequest(clickSpan({ traceId: TRACE_ID.toUpperCase(), spanId: SPAN_ID.toUpperCase(), parentSpanId: '' })),
      { trusted: false },
    ).items[0];
    expect(upper).toMatchObject({ traceId: TRACE_ID, spanId: SPAN_ID, parentSpanId: null });
    const zeroParent = decodeTraceRequest(traceRequest(clickSpan({ parentSpanId: '0'.repeat(16) })), { trusted: false });
    expect(zeroParent.items[0]?.parentSpanId).toBeNull();
  });

  it('accepts numeric timestamps and zero-length spans', () => {
    const result = decodeTraceRequest(
      traceRequest(clickSpan({ startTimeUnixNano: 1_000, endTimeUnixNano: 1_000 })),
      { trusted: false },
    );
    expect(result.items[0]).toMatchObject({ startTimeUnixNano: '1000', endTimeUnixNano: '1000' });
  });

  it('names the service unknown_service when the resource has no service.name', () => {
    const body = { resourceSpans: [{ scopeSpans: [{ spans: [clickSpan()] }] }] };
    const [span] = decodeTraceRequest(body, { trusted: false }).items;
    expect(span).toMatchObject({ service: 'unknown_service', scope: '' });
  });

  it('falls back to kind 0 and status 0 for values outside the enums', () => {
    const [span] = decodeTraceRequest(
      traceRequest(clickSpan({ kind: 9, status: { code: 7 } })),
      { trusted: false },
    ).items;
    expect(span).toMatchObject({ kind: 0, statusCode: 0, statusMessage: '' });
  });

  it.each<[string, Record<string, unknown> | number, RegExp]>([
    ['a short traceId', { traceId: TRACE_ID.slice(1) }, /traceId is invalid/],
    ['a non-hex traceId', { traceId: 'z'.repeat(32) }, /traceId is invalid/],
    ['an all-zero traceId', { traceId: '0'.repeat(32) }, /traceId is invalid/],
    ['a base64 traceId (protobuf-JSON style)', { traceId: 'W47/95gDgQPSabYzgT/GDA==' }, /traceId is invalid/],
    ['a missing spanId', { spanId: undefined }, /spanId is invalid/],
    ['an all-zero spanId', { spanId: '0'.repeat(16) }, /spanId is invalid/],
    ['a long spanId', { spanId: `${SPAN_ID}00` }, /spanId is invalid/],
    ['a bad parentSpanId', { parentSpanId: 'not-hex' }, /parentSpanId is invalid/],
    ['no name', { name: '' }, /has no name/],
    ['a negative start', { startTimeUnixNano: '-1' }, /timestamps are invalid/],
    ['a fractional end', { endTimeUnixNano: '1.5' }, /timestamps are invalid/],
    ['a non-numeric start', { startTimeUnixNano: 'yesterday' }, /timestamps are invalid/],
    ['a 21-digit end', { endTimeUnixNano: '1'.repeat(21) }, /timestamps are invalid/],
    ['a missing end', { endTimeUnixNano: undefined }, /timestamps are invalid/],
    ['an end before the start', { startTimeUnixNano: END, endTimeUnixNano: START }, /ends before it starts/],
    ['a span that is not an object', 42, /not an object/],
  ])('rejects a span with %s and keeps its valid sibling', (_label, override, reason) => {
    const bad = typeof override === 'number' ? override : clickSpan({ spanId: 'aaaaaaaaaaaaaaaa', ...override });
    const result = decodeTraceRequest(traceRequest(clickSpan(), bad), { trusted: false });
    expect(result.items).toEqual([EXPECTED_CLICK]);
    expect(result.rejected).toBe(1);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(reason);
  });

  it('counts every rejection but reports only the first five reasons', () => {
    const bad = Array.from({ length: 7 }, (_, i) => clickSpan({ spanId: `${i}`.repeat(16), name: '' }));
    const result = decodeTraceRequest(traceRequest(...bad, clickSpan()), { trusted: false });
    expect(result.items).toHaveLength(1);
    expect(result.rejected).toBe(7);
    expect(result.errors).toHaveLength(5);
  });

  it('drops invalid events and links but keeps the span', () => {
    const [span] = decodeTraceRequest(
      traceRequest(
        clickSpan({
          events: [{ name: 'no-time' }, 'junk', { name: 'ok', timeUnixNano: '5' }],
          links: [{ traceId: 'x', spanId: REQUEST_SPAN_ID }, null, { traceId: REQUEST_TRACE_ID, spanId: REQUEST_SPAN_ID }],
        }),
      ),
      { trusted: false },
    ).items;
    expect(span?.events).toEqual([{ name: 'ok', timeUnixNano: '5', attributes: {} }]);
    expect(span?.links).toEqual([{ traceId: REQUEST_TRACE_ID, spanId: REQUEST_SPAN_ID, attributes: {} }]);
  });

  it('answers an empty result for an empty export request', () => {
    expect(plain(decodeTraceRequest({}, { trusted: false }))).toEqual({ items: [], rejected: 0, errors: [] });
    expect(plain(decodeTraceRequest({ resourceSpans: [] }, { trusted: false }))).toEqual({ items: [], rejected: 0, errors: [] });
  });

  it('counts rejected data points, not metrics, when a whole metric is refused', () => {
    const points = [{ timeUnixNano: END, asInt: '1' }, { timeUnixNano: END, asInt: '2' }, { timeUnixNano: END, asInt: '3' }];
    expect(decodeMetricsRequest(metricsRequest({ sum: { dataPoints: points } }), { trusted: false }).rejected).toBe(3);
    expect(decodeMetricsRequest(metricsRequest({ name: 'm', summary: { dataPoints: points } }), { trusted: false }).rejected).toBe(3);
  });

  it.each<[string, unknown, RegExp]>([
    ['null', null, /body must be a JSON object/],
    ['a string', 'resourceSpans', /body must be a JSON object/],
    ['an array', [], /body must be a JSON object/],
    ['a number', 42, /body must be a JSON object/],
    ['resourceSpans as an object', { resourceSpans: {} }, /resourceSpans must be an array/],
    ['resourceSpans of numbers', { resourceSpans: [1] }, /resourceSpans\[\] must be objects/],
    ['scopeSpans as a string', { resourceSpans: [{ scopeSpans: 'x' }] }, /scopeSpans must be an array/],
    ['scopeSpans of strings', { resourceSpans: [{ scopeSpans: ['x'] }] }, /scopeSpans\[\] must be objects/],
    ['spans as an object', { resourceSpans: [{ scopeSpans: [{ spans: {} }] }] }, /spans must be an array/],
  ])('throws MalformedOtlpError for %s', (_label, body, message) => {
    expect(() => decodeTraceRequest(body, { trusted: false })).toThrow(MalformedOtlpError);
    expect(() => decodeTraceRequest(body, { trusted: false })).toThrow(message);
  });

  it('keeps only the first maxAttributes attributes instead of refusing the span', () => {
    const attributes = ['a', 'b', 'c', 'd'].map((key) => ({ key, value: str(key) }));
    const result = decodeTraceRequest(traceRequest(clickSpan({ attributes })), { trusted: false, limits: SMALL_LIMITS });
    expect(result.rejected).toBe(0);
    expect(result.items[0]?.attributes).toEqual({ a: 'a', b: 'b' });
  });

  it('keeps the default limit of 128 attributes', () => {
    const attributes = Array.from({ length: 200 }, (_, i) => ({ key: `k${i}`, value: { intValue: String(i) } }));
    const [span] = decodeTraceRequest(traceRequest(clickSpan({ attributes })), { trusted: false }).items;
    expect(Object.keys(span!.attributes)).toHaveLength(DEFAULT_DECODE_LIMITS.maxAttributes);
    expect(span!.attributes.k127).toBe(127);
    expect(span!.attributes.k128).toBeUndefined();
  });

  it('truncates long strings, keys and names to maxValueLength', () => {
    const [span] = decodeTraceRequest(
      traceRequest(
        clickSpan({
          name: 'recommendation.click',
          attributes: [{ key: 'a-very-long-key', value: str('abcdefghij') }],
          events: [{ name: 'long-event-name', timeUnixNano: '1' }],
          status: { code: 2, message: 'a long message' },
        }),
      ),
      { trusted: false, limits: SMALL_LIMITS },
    ).items;
    expect(span).toMatchObject({ name: 'recom', statusMessage: 'a lon', attributes: { 'a-ver': 'abcde' } });
    expect(span?.events[0]?.name).toBe('long-');
  });

  it('keeps only maxEventsOrLinks events and links', () => {
    const events = [1, 2, 3].map((i) => ({ name: `e${i}`, timeUnixNano: String(i) }));
    const links = [1, 2, 3].map(() => ({ traceId: REQUEST_TRACE_ID, spanId: REQUEST_SPAN_ID }));
    const [span] = decodeTraceRequest(traceRequest(clickSpan({ events, links })), {
      trusted: false,
      limits: SMALL_LIMITS,
    }).items;
    expect(span?.events.map((e) => e.name)).toEqual(['e1']);
    expect(span?.links).toHaveLength(1);
  });

  it('cuts array and kvlist values off below maxDepth levels of nesting', () => {
    const nestedArray = (depth: number): Record<string, unknown> =>
      depth === 0 ? str('leaf') : { arrayValue: { values: [nestedArray(depth - 1)] } };
    const nestedKv = (depth: number): Record<string, unknown> =>
      depth === 0 ? str('leaf') : { kvlistValue: { values: [{ key: `k${depth}`, value: nestedKv(depth - 1) }] } };
    const [arrays, kvlists] = decodeTraceRequest(
      traceRequest(
        clickSpan({
          attributes: [
            { key: 'two', value: nestedArray(2) },
            { key: 'three', value: nestedArray(3) },
          ],
        }),
        clickSpan({
          spanId: 'aaaaaaaaaaaaaaaa',
          attributes: [
            { key: 'two', value: nestedKv(2) },
            { key: 'three', value: nestedKv(3) },
          ],
        }),
      ),
      { trusted: false, limits: { ...SMALL_LIMITS, maxValueLength: 100 } },
    ).items;
    // maxDepth 2: two levels of containers are kept, a third becomes null.
    expect(arrays?.attributes).toEqual({ two: [['leaf']], three: [[null]] });
    expect(kvlists?.attributes).toEqual({ two: { k2: { k1: 'leaf' } }, three: { k3: { k2: null } } });
  });

  it('bounds a deeply nested attribute without overflowing the stack', () => {
    let value: Record<string, unknown> = str('leaf');
    for (let i = 0; i < 100_000; i += 1) value = { arrayValue: { values: [value] } };
    const [span] = decodeTraceRequest(traceRequest(clickSpan({ attributes: [{ key: 'deep', value }] })), {
      trusted: false,
    }).items;
    let depth = 0;
    let cursor: unknown = span?.attributes.deep;
    while (Array.isArray(cursor)) {
      depth += 1;
      cursor = cursor[0];
    }
    expect(depth).toBe(DEFAULT_DECODE_LIMITS.maxDepth);
    expect(cursor).toBeNull();
  });

  it('keeps at most maxAttributes elements of an array value', () => {
    const values = Array.from({ length: 5 }, (_, i) => ({ intValue: String(i) }));
    const [span] = decodeTraceRequest(
      traceRequest(clickSpan({ attributes: [{ key: 'list', value: { arrayValue: { values } } }] })),
      { trusted: false, limits: SMALL_LIMITS },
    ).items;
    expect(span?.attributes.list).toEqual([0, 1]);
  });
});

function metricsRequest(...metrics: unknown[]): Record<string, unknown> {
  return {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: str('content-site') }] },
        scopeMetrics: [{ scope: { name: 'variant-lens-sdk' }, metrics }],
      },
    ],
  };
}

const VARIANT_ATTRIBUTES = [
  { key: 'experiment.rec_algorithm', value: str('hybrid') },
  { key: 'experiment.ranking_boost', value: str('control') },
];

const POINT_BASE = {
  service: 'content-site',
  resourceKey: '{"service.name":"content-site"}',
  scope: 'variant-lens-sdk',
  trusted: false,
  attributes: { 'experiment.rec_algorithm': 'hybrid', 'experiment.ranking_boost': 'control' },
  startTimeUnixNano: START,
  timeUnixNano: END,
};

describe('the visit\'s session on browser spans', () => {
  const naming = (id: string, own?: string) => ({
    spanId: id,
    attributes: [{ key: 'recommendation.request_id', value: str('req-1') }, ...(own === undefined ? [] : [{ key: 'session.id', value: str(own) }])],
  });
  it('puts the resource\'s session.id on each span naming a request that has none of its own, for the click rules, and on no other span', () => {
    const body = traceRequest(clickSpan(naming('eee19b7ec3c1b174')), clickSpan(naming('eee19b7ec3c1b175', 'own')), clickSpan({ spanId: 'eee19b7ec3c1b176', attributes: [] }));
    (body.resourceSpans as any)[0].resource.attributes.push({ key: 'session.id', value: str('visit-1') });
    const [a, b, other] = decodeTraceRequest(body, { trusted: false, nowMs: 1767225600200 }).items;
    expect(a!.attributes['session.id']).toBe('visit-1');
    expect(b!.attributes['session.id']).toBe('own');
    // A span that names no served request is not judged by its session: it is stored without it.
    expect(other!.attributes).not.toHaveProperty('session.id');
    // Without a session on the resource nothing is added.
    expect(decodeTraceRequest(traceRequest(clickSpan(naming('eee19b7ec3c1b174'))), { trusted: false, nowMs: 1767225600200 }).items[0]!.attributes).not.toHaveProperty('session.id');
  });
});

describe('decodeMetricsRequest', () => {
  it('bounds the resource that enters a metric stream key, keeping service.name and counting what it dropped', () => {
    // What the decode limits let through: 128 attributes of 4,096 characters, half a megabyte.
    const huge = Array.from({ length: 127 }, (_, i) => ({ key: `a${String(i).padStart(3, '0')}`, value: str(`${i}`.padEnd(4096, 'x')) }));
    const body = (attributes: unknown[]) => ({
      resourceMetrics: [
        {
          resource: { attributes },
          scopeMetrics: [{ metrics: [{ name: 'm', sum: { aggregationTemporality: 1, dataPoints: [{ startTimeUnixNano: START, timeUnixNano: END, asInt: '1' }] } }] }],
        },
      ],
    });
    const [point] = decodeMetricsRequest(body([...huge, { key: 'service.name', value: str('zz-service') }]), { trusted: false, nowMs: 1767225600200 }).items;
    expect(point!.service).toBe('zz-service');
    expect(point!.resourceKey.length).toBeLessThanOrEqual(MAX_STREAM_RESOURCE_CHARS);
    const key = JSON.parse(point!.resourceKey) as Record<string, unknown>;
    expect(key['service.name']).toBe('zz-service');
    expect(key[RESOURCE_ATTRIBUTES_DROPPED]).toBe(127 - (Object.keys(key).length - 2));
    expect(key.a000).toBe('0'.padEnd(4096, 'x'));
    // A resource within the bound is its canonical JSON, as before: streams stored earlier keep their identity.
    const [small] = decodeMetricsRequest(body([{ key: 'service.name', value: str('s') }, { key: 'host.name', value: str('h') }]), { trusted: false, nowMs: 1767225600200 }).items;
    expect(small!.resourceKey).toBe('{"host.name":"h","service.name":"s"}');
  });

  it('decodes a monotonic delta sum whose asInt is a string', () => {
    const result = decodeMetricsRequest(
      metricsRequest({
        name: 'recommendation.click_through',
        unit: '1',
        sum: {
          aggregationTemporality: 1,
          isMonotonic: true,
          dataPoints: [{ attributes: VARIANT_ATTRIBUTES, startTimeUnixNano: START, timeUnixNano: END, asInt: '4' }],
        },
      }),
      { trusted: false },
    );
    const expected: MetricPointRecord = {
      ...POINT_BASE,
      name: 'recommendation.click_through',
      unit: '1',
      kind: 'sum',
      temporality: 1,
      monotonic: true,
      value: 4,
      count: null,
      sum: null,
      bucketCounts: null,
      explicitBounds: null,
    };
    expect(plain(result)).toEqual({ items: [expected], rejected: 0, errors: [] });
  });

  it('decodes a cumulative, non-monotonic sum of doubles', () => {
    const [point] = decodeMetricsRequest(
      metricsRequest({
        name: 'queue.depth',
        sum: {
          aggregationTemporality: 2,
          dataPoints: [{ attributes: VARIANT_ATTRIBUTES, startTimeUnixNano: START, timeUnixNano: END, asDouble: -2.5 }],
        },
      }),
      { trusted: false },
    ).items;
    expect(point).toMatchObject({ kind: 'sum', temporality: 2, monotonic: false, value: -2.5 });
  });

  it('gives a gauge temporality 0, whatever the request says', () => {
    const [point] = decodeMetricsRequest(
      metricsRequest({
        name: 'cache.size',
        unit: 'By',
        gauge: { aggregationTemporality: 2, dataPoints: [{ timeUnixNano: END, asInt: 1024 }] },
      }),
      { trusted: true },
    ).items;
    expect(point).toEqual({
      ...POINT_BASE,
      trusted: true,
      attributes: {},
      startTimeUnixNano: '0',
      name: 'cache.size',
      unit: 'By',
      kind: 'gauge',
      temporality: 0,
      monotonic: false,
      value: 1024,
      count: null,
      sum: null,
      bucketCounts: null,
      explicitBounds: null,
    });
  });

  it('decodes a histogram whose counts are strings', () => {
    const [point] = decodeMetricsRequest(
      metricsRequest({
        name: 'recommendation.latency',
        unit: 'ms',
        histogram: {
          aggregationTemporality: 2,
          dataPoints: [
            {
              attributes: VARIANT_ATTRIBUTES,
              startTimeUnixNano: START,
              timeUnixNano: END,
              count: '6',
              sum: 412.5,
              bucketCounts: ['1', '2', '3'],
              explicitBounds: [10, 100],
            },
          ],
        },
      }),
      { trusted: false },
    ).items;
    expect(point).toEqual({
      ...POINT_BASE,
      name: 'recommendation.latency',
      unit: 'ms',
      kind: 'histogram',
      temporality: 2,
      monotonic: false,
      value: null,
      count: 6,
      sum: 412.5,
      bucketCounts: [1, 2, 3],
      explicitBounds: [10, 100],
    });
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['bucketCounts one short', { bucketCounts: ['1', '2'], explicitBounds: [10, 100] }, /one more entry than explicitBounds/],
    ['bucketCounts one long', { bucketCounts: ['1', '2', '3', '0'], explicitBounds: [10, 100] }, /one more entry than explicitBounds/],
    ['a bucket that is not a number', { bucketCounts: ['1', 'many', '3'], explicitBounds: [10, 100] }, /bucketCounts must be non-negative integers/],
    ['a bound that is not a number', { bucketCounts: ['1', '2', '3'], explicitBounds: [10, 'x'] }, /explicitBounds must be numbers/],
    ['a negative count', { count: '-1' }, /count is invalid/],
    ['no count', { count: undefined }, /count is invalid/],
    ['no time', { timeUnixNano: undefined }, /timeUnixNano is invalid/],
  ])('rejects a histogram point with %s and keeps its sibling', (_label, override, reason) => {
    const good = { timeUnixNano: END, count: '6', bucketCounts: ['1', '2', '3'], explicitBounds: [10, 100] };
    const result = decodeMetricsRequest(
      metricsRequest({ name: 'recommendation.latency', unit: 'ms', histogram: { dataPoints: [good, { ...good, ...override }] } }),
      { trusted: false },
    );
    expect(result.items).toHaveLength(1);
    expect(result.items[0]?.count).toBe(6);
    expect(result.rejected).toBe(1);
    expect(result.errors[0]).toMatch(/^metric recommendation\.latency: /);
    expect(result.errors[0]).toMatch(reason);
  });

  it.each<[string, unknown, RegExp]>([
    ['no name', { sum: { dataPoints: [{ timeUnixNano: END, asInt: '1' }] } }, /metric has no name/],
    ['no data', { name: 'm' }, /metric m: no data/],
    ['an exponential histogram', { name: 'm', exponentialHistogram: { dataPoints: [] } }, /metric m: unsupported type/],
    ['a summary', { name: 'm', summary: { dataPoints: [] } }, /metric m: unsupported type/],
    ['a point with no value', { name: 'm', sum: { dataPoints: [{ timeUnixNano: END }] } }, /no asDouble or asInt/],
    ['a point with a non-numeric asInt', { name: 'm', gauge: { dataPoints: [{ timeUnixNano: END, asInt: 'ten' }] } }, /no asDouble or asInt/],
    ['a point with a bad time', { name: 'm', gauge: { dataPoints: [{ timeUnixNano: 'now', asInt: '1' }] } }, /timeUnixNano is invalid/],
    ['a point that is not an object', { name: 'm', gauge: { dataPoints: ['1'] } }, /not an object/],
  ])('rejects %s with a reason and keeps the valid metrics', (_label, bad, reason) => {
    const good = { name: 'recommendation.impressions', sum: { dataPoints: [{ timeUnixNano: END, asInt: '10' }] } };
    const result = decodeMetricsRequest(metricsRequest(good, bad), { trusted: false });
    expect(result.items.map((p) => [p.name, p.value])).toEqual([['recommendation.impressions', 10]]);
    expect(result.rejected).toBe(1);
    expect(result.errors[0]).toMatch(reason);
  });

  it.each<[string, unknown, RegExp]>([
    ['null', null, /body must be a JSON object/],
    ['an array', [{ resourceMetrics: [] }], /body must be a JSON object/],
    ['resourceMetrics as a string', { resourceMetrics: 'x' }, /resourceMetrics must be an array/],
    ['resourceMetrics of nulls', { resourceMetrics: [null] }, /resourceMetrics\[\] must be objects/],
    ['scopeMetrics as an object', { resourceMetrics: [{ scopeMetrics: {} }] }, /scopeMetrics must be an array/],
    ['metrics as a number', { resourceMetrics: [{ scopeMetrics: [{ metrics: 1 }] }] }, /metrics must be an array/],
  ])('throws MalformedOtlpError for %s', (_label, body, message) => {
    expect(() => decodeMetricsRequest(body, { trusted: false })).toThrow(MalformedOtlpError);
    expect(() => decodeMetricsRequest(body, { trusted: false })).toThrow(message);
  });

  it('caps and truncates point attributes by the limits', () => {
    const attributes = [
      { key: 'variant', value: str('collaborative') },
      { key: 'b', value: str('b') },
      { key: 'c', value: str('c') },
    ];
    const [point] = decodeMetricsRequest(
      metricsRequest({ name: 'recommendation.impressions', sum: { dataPoints: [{ timeUnixNano: END, asInt: '1', attributes }] } }),
      { trusted: false, limits: { ...SMALL_LIMITS, maxValueLength: 8 } },
    ).items;
    expect(point?.attributes).toEqual({ variant: 'collabor', b: 'b' });
  });
});

describe('decoding bounds found in review', () => {
  const point = { timeUnixNano: '2000', count: '3', bucketCounts: ['1', '1', '1'], explicitBounds: [10, 100] };
  const decode = (override: Record<string, unknown>) =>
    decodeMetricsRequest(
      { resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'h', histogram: { dataPoints: [{ ...point, ...override }] } }] }] }] },
      { trusted: false },
    );

  it.each([
    ['a count that is not the sum of the buckets', { count: '5' }, /count must equal the sum/],
    ['a fractional count', { count: '1.5' }, /count is invalid/],
    ['a negative bucket', { bucketCounts: ['-1', '2', '2'] }, /non-negative integers/],
    ['unsorted bounds', { explicitBounds: [100, 10] }, /strictly increasing/],
    ['bounds without buckets', { bucketCounts: [], explicitBounds: [1, 2] }, /one more entry/],
  ])('rejects a histogram with %s', (_label, override, reason) => {
    const result = decode(override);
    expect(result.items).toHaveLength(0);
    expect(result.errors[0]).toMatch(reason);
  });

  it('rejects spans and points dated more than a day ahead of the server\'s clock, and keeps those within it', () => {
    const nowMs = Date.UTC(2026, 11, 1);
    const at = (ms: number) => `${ms}000000`;
    const spanEnding = (spanId: string, endMs: number) => ({ traceId: '1'.repeat(32), spanId, name: 's', startTimeUnixNano: at(nowMs), endTimeUnixNano: at(endMs) });
    const spans = decodeTraceRequest(
      { resourceSpans: [{ scopeSpans: [{ spans: [spanEnding('2'.repeat(16), nowMs + 3_600_000), spanEnding('3'.repeat(16), nowMs + 2 * 86_400_000)] }] }] },
      { trusted: false, nowMs },
    );
    expect(spans.items.map((s) => s.spanId)).toEqual(['2'.repeat(16)]);
    expect(spans.errors).toEqual([`span ${'3'.repeat(16)} endTimeUnixNano is more than a day ahead of the server's clock`]);
    const points = decodeMetricsRequest(
      { resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'c', sum: { dataPoints: [{ timeUnixNano: at(nowMs + 60_000), asInt: '1' }, { timeUnixNano: '99999999999999999999', asInt: '2' }, { timeUnixNano: at(nowMs + 86_400_001), asInt: '3' }] } }] }] }] },
      { trusted: false, nowMs },
    );
    expect(points.items.map((p) => p.value)).toEqual([1]);
    expect(points.rejected).toBe(2);
    expect(points.errors[1]).toBe("metric c: data point timeUnixNano is more than a day ahead of the server's clock");
  });

  it('rejects a histogram point of more than 1,000 buckets', () => {
    const buckets = Array.from({ length: 1_001 }, () => '0');
    const result = decode({ count: '0', bucketCounts: buckets, explicitBounds: Array.from({ length: 1_000 }, (_, i) => i) });
    expect(result.errors).toEqual(['metric h: histogram has more than 1000 buckets']);
  });

  it('keeps an attribute named __proto__ as an attribute: the keys inside it stay inside', () => {
    const span = {
      traceId: '1'.repeat(32), spanId: '2'.repeat(16), name: 's', startTimeUnixNano: '1', endTimeUnixNano: '2',
      attributes: [{ key: '__proto__', value: { kvlistValue: { values: [{ key: 'recommendation.request_id', value: { stringValue: 'forged' } }] } } }],
    };
    const [decoded] = decodeTraceRequest({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] }, { trusted: false }).items;
    const attributes = decoded!.attributes;
    expect(Object.getPrototypeOf(attributes)).toBe(Object.prototype);
    expect(attributes['recommendation.request_id']).toBeUndefined();
    expect(Object.keys(attributes)).toEqual(['__proto__']);
    expect(JSON.stringify(attributes)).toBe('{"__proto__":{"recommendation.request_id":"forged"}}');
  });

  it('rejects timestamps beyond 64 bits', () => {
    const span = { traceId: '1'.repeat(32), spanId: '2'.repeat(16), name: 's', startTimeUnixNano: '1', endTimeUnixNano: '99999999999999999999' };
    expect(decodeTraceRequest({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] }, { trusted: false }).rejected).toBe(1);
  });

  it('never splits a surrogate pair when truncating', () => {
    const span = {
      traceId: '1'.repeat(32), spanId: '2'.repeat(16), name: 's', startTimeUnixNano: '1', endTimeUnixNano: '2',
      attributes: [{ key: 'k', value: { stringValue: '🎲🎲' } }],
    };
    const limits = { maxAttributes: 10, maxValueLength: 3, maxDepth: 4, maxEventsOrLinks: 4 };
    const [decoded] = decodeTraceRequest({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] }, { trusted: false, limits }).items;
    expect(decoded!.attributes.k).toBe('🎲');
  });

  it('keeps a fractional intValue out of the attributes', () => {
    const span = {
      traceId: '1'.repeat(32), spanId: '2'.repeat(16), name: 's', startTimeUnixNano: '1', endTimeUnixNano: '2',
      attributes: [{ key: 'n', value: { intValue: '1.5' } }, { key: 'm', value: { intValue: '0x10' } }],
    };
    const [decoded] = decodeTraceRequest({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] }, { trusted: false }).items;
    expect(decoded!.attributes).toEqual({ n: null, m: null });
  });
});
