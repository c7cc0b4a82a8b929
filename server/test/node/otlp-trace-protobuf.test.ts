/** The one-pass span encoder against the OpenTelemetry JS serializer: the same bytes for the same spans. */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type Context, type Tracer } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { decodeTraceProtobuf } from '../../src/core/otlp-protobuf.js';
import { experimentMiddleware, recordServed } from '../../src/node/index.js';
import { withSpanAttributes } from '../../src/node/experiment-baggage-span-processor.js';
import { LeanTracer, type LeanSpan } from '../../src/node/lean-span.js';
import { encodeReadableSpans } from '../../src/node/otlp-trace-protobuf.js';
import { experiments, listen } from './middleware-harness.js';

function provider(resource: Attributes) {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ resource: resourceFromAttributes(resource), spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { tracerProvider, spans: () => exporter.getFinishedSpans() };
}

const remoteParent: Context = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: new TraceState('vendor=abc,other=x-1'),
});

/** Spans that exercise every field and attribute type the encoder writes. */
const CASES: { name: string; make: (tracer: Tracer) => void }[] = [
  {
    name: 'attributes of every type',
    make: (tracer) =>
      tracer
        .startSpan('every type', {
          kind: SpanKind.SERVER,
          attributes: {
            ascii: 'story-1',
            accented: 'café ✓ 🚀 日本',
            long: 'x'.repeat(200),
            longer: 'é'.repeat(20_000),
            empty: '',
            yes: true,
            no: false,
            zero: 0,
            int: 42,
            negative: -7,
            big: 2 ** 53,
            negativeBig: -(2 ** 60),
            double: 3.25,
            tiny: -1e-9,
            strings: ['a', 'b', 'ü'],
            numbers: [1, 2.5, -3],
            booleans: [true, false],
            none: [],
          },
        })
        .end(),
  },
  {
    name: 'remote parent with trace state, events, links, error status, renamed',
    make: (tracer) => {
      const span = tracer.startSpan('child', { kind: SpanKind.CLIENT, links: [{ context: trace.getSpanContext(remoteParent)!, attributes: { 'link.kind': 'follows' } }] }, remoteParent);
      span.addEvent('feature_flag.evaluation', { 'feature_flag.key': 'rec_algorithm_v3', 'feature_flag.result.variant': 'treatment' });
      span.addEvent('no attributes', [1_733_300_000, 123_456_789]);
      span.addLink({ context: { traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: TraceFlags.NONE } });
      // Upper-case hex, which W3C trace context does not write but a link may carry.
      span.addLink({ context: { traceId: '0AF7651916CD43DD8448EB211C80319C', spanId: 'B7AD6B7169203331', traceFlags: TraceFlags.SAMPLED } });
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'it failed' });
      span.updateName('child renamed');
      span.end();
    },
  },
  {
    name: 'strings around the one-byte length of a key-value and of an array item, ASCII and not',
    make: (tracer) =>
      tracer
        .startSpan('lengths', {
          attributes: {
            k: 'a'.repeat(120),
            kk: 'b'.repeat(120),
            kkk: 'c'.repeat(120),
            [`${'k'.repeat(60)}`]: 'd'.repeat(61),
            'ascii then not': `${'e'.repeat(20)}é`,
            [`clé`]: 'value',
            items: ['f'.repeat(124), 'g'.repeat(125), 'h'.repeat(126), 'short', 'ünï', ''],
          },
        })
        .end(),
  },
  {
    name: 'a local child, explicit times, ok status',
    make: (tracer) => {
      const parent = tracer.startSpan('parent', { startTime: new Date('2026-12-04T20:00:00.123Z') });
      const child = tracer.startSpan('child', { kind: SpanKind.PRODUCER, startTime: [1_764_878_400, 999_999_999] }, trace.setSpan(ROOT_CONTEXT, parent));
      child.setStatus({ code: SpanStatusCode.OK });
      child.end([4_102_444_800, 1]);
      parent.end();
    },
  },
];

/** The quick start's app with `tracer`, one request per user, each in the same caller's trace. */
async function serveQuickStart(tracer: Tracer, users: readonly string[]): Promise<void> {
  const app = express();
  app.use('/api', experimentMiddleware({ experiments, tracer, visitorId: (req) => String(req.query.userId ?? '') || undefined }));
  app.get('/api/recommendations', (req, res) => {
    res.json(recordServed(req, { count: 10, contentIds: Array.from({ length: 10 }, (_, i) => `story-${i + 1}`), attributes: { 'recommendation.algorithm': 'rank-v2' } }));
  });
  const server = app.listen(0, '127.0.0.1');
  try {
    const url = await listen(server);
    for (const user of users) expect((await fetch(`${url}/api/recommendations?userId=${user}`, { headers: { traceparent: `00-${'5'.repeat(32)}-00f067aa0ba902b7-01` } })).status).toBe(200);
  } finally {
    server.close();
  }
}

describe('encodeReadableSpans', () => {
  for (const { name, make } of CASES) {
    it(`writes the OpenTelemetry serializer's bytes: ${name}`, () => {
      const { tracerProvider, spans } = provider({ 'service.name': 'encoder-test', 'service.version': '1.0.0' });
      make(tracerProvider.getTracer('scope-a', '2.0.0', { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' }));
      expect(spans().length).toBeGreaterThan(0);
      expect(Buffer.from(encodeReadableSpans(spans()))).toEqual(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans())!));
    });
  }

  it('groups a batch by resource and scope in first-seen order, as the serializer does', () => {
    const a = provider({ 'service.name': 'a' });
    const b = provider({ 'service.name': 'b', 'deployment.environment.name': 'test' });
    for (const { make } of CASES) {
      make(a.tracerProvider.getTracer('one'));
      make(b.tracerProvider.getTracer('two', '1'));
      make(a.tracerProvider.getTracer('three'));
    }
    const interleaved: ReadableSpan[] = [];
    const [left, right] = [a.spans(), b.spans()];
    for (let i = 0; i < Math.max(left.length, right.length); i++) interleaved.push(...[right[i], left[i]].filter((s) => s !== undefined));
    const ours = encodeReadableSpans(interleaved);
    expect(Buffer.from(ours)).toEqual(Buffer.from(ProtobufTraceSerializer.serializeRequest(interleaved)!));
    const decoded = decodeTraceProtobuf(ours) as { resourceSpans: { scopeSpans: { scope: { name: string }; spans: unknown[] }[] }[] };
    expect(decoded.resourceSpans.map((r) => r.scopeSpans.map((s) => s.scope.name))).toEqual([['two'], ['one', 'three']]);
  });

  it("writes the quick start's two spans (SERVER span and recommendation.request with content ids and feature-flag events) as the serializer does", async () => {
    const { tracerProvider, spans } = provider({ 'service.name': 'my-recs' });
    await serveQuickStart(tracerProvider.getTracer('variant-lens'), ['u1', 'u2', 'u3']);
    const finished = spans();
    expect(finished.map((s) => s.name).sort()).toEqual([...Array<string>(3).fill('GET /api/recommendations'), ...Array<string>(3).fill('recommendation.request')].sort());
    expect(finished.find((s) => s.name === 'recommendation.request')!.events.length).toBeGreaterThan(0);
    expect(Buffer.from(encodeReadableSpans(finished))).toEqual(Buffer.from(ProtobufTraceSerializer.serializeRequest(finished)!));
  });

  it('grows its buffer for a batch larger than the last one', () => {
    const { tracerProvider, spans } = provider({ 'service.name': 'big' });
    const tracer = tracerProvider.getTracer('t');
    encodeReadableSpans([]);
    for (let i = 0; i < 200; i++) tracer.startSpan(`span ${i}`, { attributes: { payload: 'y'.repeat(300) } }).end();
    expect(Buffer.from(encodeReadableSpans(spans()))).toEqual(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans())!));
  });
});

/** startTelemetry's lean tracer, its ended spans kept. */
function leanProvider(resource: Attributes, scope = { name: 'variant-lens' }) {
  const ended: LeanSpan[] = [];
  return { tracer: new LeanTracer(resourceFromAttributes(resource), scope, (span) => ended.push(span)), spans: () => ended };
}

describe('encodeReadableSpans of lean spans', () => {
  for (const { name, make } of CASES) {
    it(`writes the OpenTelemetry serializer's bytes: ${name}`, () => {
      const { tracer, spans } = leanProvider({ 'service.name': 'encoder-test' }, { name: 'scope-a', version: '2.0.0', schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' } as { name: string });
      make(tracer);
      expect(spans().length).toBeGreaterThan(0);
      expect(Buffer.from(encodeReadableSpans(spans()))).toEqual(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans())!));
    });
  }

  it("writes the quick start's lean spans as the serializer does, with the bytes of shared experiment attributes and feature-flag events reused", async () => {
    const { tracer, spans } = leanProvider({ 'service.name': 'my-recs' });
    // u1 thrice: its later requests' shared attributes and events are written from the first one's bytes.
    await serveQuickStart(tracer, ['u1', 'u2', 'u1', 'u3', 'u1']);
    const finished = spans();
    expect(finished.map((s) => s.name).sort()).toEqual([...Array<string>(5).fill('GET /api/recommendations'), ...Array<string>(5).fill('recommendation.request')].sort());
    const request = finished.find((s) => s.name === 'recommendation.request')!;
    expect(request.events.length).toBeGreaterThan(0);
    expect(Object.isFrozen(request.sharedAttributes) && Object.keys(request.sharedAttributes).length > 0).toBe(true);
    const expected = Buffer.from(ProtobufTraceSerializer.serializeRequest(finished)!);
    expect(Buffer.from(encodeReadableSpans(finished))).toEqual(expected);
    // Again, every block now from the cache, and one span at a time.
    expect(Buffer.from(encodeReadableSpans(finished))).toEqual(expected);
    for (const span of finished) expect(Buffer.from(encodeReadableSpans([span]))).toEqual(Buffer.from(ProtobufTraceSerializer.serializeRequest([span])!));
  });

  it('writes an overwritten shared attribute where the serializer does', () => {
    const { tracer, spans } = leanProvider({ 'service.name': 'overwrite' });
    const context = withSpanAttributes(ROOT_CONTEXT, Object.freeze({ 'experiment.a': 'x', 'experiment.b': 'y' }));
    tracer.startSpan('kept', {}, context).end();
    const span = tracer.startSpan('overwritten', {}, context);
    span.setAttribute('own', 1);
    span.setAttribute('experiment.a', 'z');
    span.end();
    expect(Object.keys(spans()[1]!.attributes)).toEqual(['experiment.a', 'experiment.b', 'own']);
    expect(Buffer.from(encodeReadableSpans(spans()))).toEqual(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans())!));
  });
});
