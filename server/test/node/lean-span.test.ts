/**
 * startTelemetry's lean spans against the SDK's: the same calls on a `LeanTracer` and on a
 * `BasicTracerProvider` with the experiment baggage span processor (what startTelemetry
 * registers) record the same span — names, kinds, ids and parents, attributes in the same
 * order, events, links, status, limits, sampling.
 */
import { createContextKey, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { suppressTracing, TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { ExperimentBaggageSpanProcessor, SPAN_ATTRIBUTES_KEY, withSpanAttributes } from '../../src/node/experiment-baggage-span-processor.js';
import { ContextLayer, LeanSpan, LeanTracer, SPAN_KEY } from '../../src/node/lean-span.js';

const resource = resourceFromAttributes({ 'service.name': 'lean-test' });

function tracers() {
  const exporter = new InMemorySpanExporter();
  const sdk = new BasicTracerProvider({ resource, spanProcessors: [new ExperimentBaggageSpanProcessor(), new SimpleSpanProcessor(exporter)] }).getTracer('variant-lens');
  const ended: LeanSpan[] = [];
  const lean = new LeanTracer(resource, { name: 'variant-lens' }, (span) => ended.push(span));
  return { sdk, lean, sdkSpans: () => exporter.getFinishedSpans(), leanSpans: () => ended };
}

const remote: Context = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: new TraceState('vendor=abc'),
});
/** The middleware's frozen experiment attributes on a request's context, as `experimentMiddleware` leaves them. */
const shared = Object.freeze({ 'experiment.rec_algorithm': 'collaborative', 'user.cohort': 'returning', 'experiment.forced': true });
const requestContext = withSpanAttributes(remote, shared);
const flagEvent = Object.freeze({ 'feature_flag.key': 'rec_algorithm_v3', 'feature_flag.result.variant': 'collaborative', 'feature_flag.provider.name': 'variant-lens', 'feature_flag.result.reason': 'split' });

/**
 * What a span recorded, without what differs by nature between two spans: their own ids (a
 * parent made in the same case is named by its place among the case's spans) and clock readings.
 */
function recorded(span: ReadableSpan, givenTimes: boolean, all: readonly ReadableSpan[]) {
  const parent = span.parentSpanContext;
  const local = all.findIndex((s) => s.spanContext().spanId === parent?.spanId);
  return {
    name: span.name,
    kind: span.kind,
    traceFlags: span.spanContext().traceFlags,
    traceState: span.spanContext().traceState?.serialize(),
    parent: parent === undefined ? undefined : { traceId: parent.traceId, spanId: local >= 0 ? `span #${local}` : parent.spanId, isRemote: parent.isRemote },
    attributeOrder: Object.keys(span.attributes),
    attributes: span.attributes,
    droppedAttributesCount: span.droppedAttributesCount,
    events: span.events.map((e) => ({ name: e.name, attributes: e.attributes, droppedAttributesCount: e.droppedAttributesCount, ...(givenTimes ? { time: e.time } : {}) })),
    droppedEventsCount: span.droppedEventsCount,
    links: span.links,
    droppedLinksCount: span.droppedLinksCount,
    status: span.status,
    ended: span.ended,
    resource: span.resource.attributes,
    scope: span.instrumentationScope.name,
    ...(givenTimes ? { startTime: span.startTime, endTime: span.endTime } : {}),
  };
}

const failure = Object.assign(new Error('it failed'), { code: 'E_RANK' });

const CASES: { name: string; givenTimes?: boolean; make: (tracer: Tracer) => void }[] = [
  {
    name: "the middleware's SERVER span: remote parent, shared experiment attributes, attributes set after start, renamed",
    make: (tracer) => {
      const span = tracer.startSpan('GET /api', { kind: SpanKind.SERVER }, requestContext);
      span.setAttribute('http.request.method', 'GET');
      span.setAttribute('url.path', '/api/recommendations');
      span.updateName('GET /api/recommendations');
      span.setAttribute('http.route', '/api/recommendations');
      span.setAttribute('http.response.status_code', 200);
      span.end();
    },
  },
  {
    name: "recordServed's request span: content ids, feature-flag events, user attributes, a start given as a performance timestamp",
    make: (tracer) => {
      const span = tracer.startSpan('recommendation.request', { kind: SpanKind.INTERNAL, startTime: performance.now() }, requestContext);
      span.setAttributes({ 'recommendation.algorithm': 'rank-v2', '': 'empty key', bad: { nested: 1 } as never, mixed: ['a', 1] as never, nothing: undefined });
      span.setAttribute('recommendation.request_id', 'abc');
      span.setAttribute('recommendation.count', 3);
      span.setAttribute('recommendation.content_ids', ['a1', 'a2', 'a3']);
      span.addEvent('feature_flag.evaluation', flagEvent);
      span.addEvent('feature_flag.evaluation', { ...flagEvent, 'feature_flag.key': 'ranking' });
      span.end();
    },
  },
  {
    name: 'a shared attribute overwritten keeps its place; links, exceptions, error status, explicit times',
    givenTimes: true,
    make: (tracer) => {
      const span = tracer.startSpan('child', { kind: SpanKind.CLIENT, startTime: [1_764_878_400, 999_999_999], links: [{ context: trace.getSpanContext(remote)!, attributes: { 'link.kind': 'follows', bad: {} as never } }] }, requestContext);
      span.setAttribute('extra', 1);
      span.setAttribute('user.cohort', 'new');
      span.addEvent('timed', { at: 'hr' }, [1_764_878_401, 5]);
      span.addEvent('time only', new Date('2026-12-04T20:00:00.123Z'));
      span.recordException(failure, [1_764_878_401, 7]);
      span.addLink({ context: { traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: TraceFlags.NONE } });
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'it failed' });
      span.setStatus({ code: SpanStatusCode.UNSET });
      span.end([1_764_878_402, 1]);
      span.setAttribute('after end', true);
      span.addEvent('after end');
      span.end();
    },
  },
  {
    name: 'limits: 130 attributes, 130 events, 130 links, 130 attributes on an event',
    make: (tracer) => {
      const span = tracer.startSpan('limits', {}, requestContext);
      for (let i = 0; i < 130; i++) span.setAttribute(`a${i}`, i);
      span.setAttribute('a0', 'overwritten, still counted once');
      for (let i = 0; i < 130; i++) span.addEvent(`e${i}`);
      span.addEvent('wide', Object.fromEntries(Array.from({ length: 130 }, (_, i) => [`k${i}`, i])));
      for (let i = 0; i < 130; i++) span.addLink({ context: { traceId: '3'.repeat(32), spanId: (i + 1).toString(16).padStart(16, '0'), traceFlags: TraceFlags.SAMPLED } });
      span.end();
    },
  },
  {
    name: 'a root span with attributes in its options, an OK status that nothing overrides',
    make: (tracer) => {
      const span = tracer.startSpan('root', { root: true, attributes: { first: 'options', numbers: [1, 2] } }, requestContext);
      span.setStatus({ code: SpanStatusCode.OK });
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'too late' });
      span.end();
    },
  },
  {
    name: 'startActiveSpan: the span is active in the callback, its children parent under it',
    make: (tracer) =>
      tracer.startActiveSpan('outer', {}, requestContext, (outer: Span) => {
        tracer.startSpan('inner', {}, trace.setSpan(requestContext, outer)).end();
        outer.end();
      }),
  },
];

describe('LeanTracer', () => {
  for (const { name, make, givenTimes = false } of CASES) {
    it(`records what the SDK's span records: ${name}`, () => {
      const { sdk, lean, sdkSpans, leanSpans } = tracers();
      make(sdk);
      make(lean);
      expect(leanSpans().length).toBe(sdkSpans().length);
      expect(leanSpans().map((s) => recorded(s, givenTimes, leanSpans()))).toEqual(sdkSpans().map((s) => recorded(s, givenTimes, sdkSpans())));
    });
  }

  it('gives a child its parent\'s trace and a root span a new one, with valid ids', () => {
    const { lean } = tracers();
    const child = lean.startSpan('child', {}, remote);
    const root = lean.startSpan('root', {}, ROOT_CONTEXT);
    expect(child.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(root.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(root.spanContext().traceId).not.toBe('0'.repeat(32));
    expect(new Set([child, root, lean.startSpan('x')].map((s) => s.spanContext().spanId)).size).toBe(3);
    expect(child.spanContext().spanId).toMatch(/^[0-9a-f]{16}$/);
  });

  it('samples as the parent-based sampler does, and makes nothing while tracing is suppressed', () => {
    const { lean, leanSpans } = tracers();
    const unsampled = trace.setSpanContext(ROOT_CONTEXT, { traceId: '4'.repeat(32), spanId: '5'.repeat(16), traceFlags: TraceFlags.NONE, isRemote: true });
    const dropped = lean.startSpan('dropped', {}, unsampled);
    expect(dropped.isRecording()).toBe(false);
    expect(dropped.spanContext()).toMatchObject({ traceId: '4'.repeat(32), traceFlags: TraceFlags.NONE });
    expect(dropped.spanContext().spanId).not.toBe('5'.repeat(16));
    const suppressed = lean.startSpan('suppressed', {}, suppressTracing(requestContext));
    expect(trace.isSpanContextValid(suppressed.spanContext())).toBe(false);
    dropped.end();
    suppressed.end();
    expect(leanSpans()).toEqual([]);
  });

  it("copies an array attribute, so the caller's later changes do not reach the span", () => {
    const { lean, leanSpans } = tracers();
    const ids = ['a', 'b'];
    const span = lean.startSpan('s', {}, requestContext);
    span.setAttribute('ids', ids);
    ids.push('c');
    span.end();
    expect(leanSpans()[0]!.attributes['ids']).toEqual(['a', 'b']);
  });
});

describe('ContextLayer', () => {
  it("with the API's span key is what trace.setSpan gives: the span under that key, every other entry of the parent, and writes that leave both alone", () => {
    const { lean } = tracers();
    const parent = propagation.setBaggage(requestContext, propagation.createBaggage({ 'experiment.rec_algorithm': { value: 'collaborative' } }));
    const span = lean.startSpan('server', {}, parent);
    const other = lean.startSpan('other', {}, parent);
    const key = createContextKey('app key');
    const layered: Context = new ContextLayer(parent, SPAN_KEY, span);
    const copied = trace.setSpan(parent, span);
    expect(trace.getSpan(layered)).toBe(span);
    expect(trace.getSpanContext(layered)).toBe(span.spanContext());
    // The parent's entries read through: its baggage and the experiment attributes of the spans under it.
    expect(propagation.getBaggage(layered)).toBe(propagation.getBaggage(copied));
    expect(layered.getValue(SPAN_ATTRIBUTES_KEY)).toBe(shared);
    expect(layered.getValue(key)).toBeUndefined();
    const written = layered.setValue(key, 'app value');
    expect(written.getValue(key)).toBe('app value');
    expect(trace.getSpan(written)).toBe(span);
    expect(propagation.getBaggage(written)).toBe(propagation.getBaggage(parent));
    expect(layered.getValue(key)).toBeUndefined();
    expect(trace.getSpan(trace.setSpan(layered, other))).toBe(other);
    const removed = trace.deleteSpan(layered);
    expect(trace.getSpan(removed)).toBeUndefined();
    expect(removed.getValue(SPAN_ATTRIBUTES_KEY)).toBe(shared);
    expect(trace.getSpan(layered)).toBe(span);
    // A child started under it is the span's child, as under the copied context.
    expect(lean.startSpan('child', {}, layered).spanContext().traceId).toBe(span.spanContext().traceId);
    expect((lean.startSpan('child', {}, layered) as LeanSpan).parentSpanContext).toBe(span.spanContext());
  });
});
