import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { hrTimeToNanos, spanToRecord } from '../src/telemetry/sdk-to-records.js';

describe('hrTimeToNanos', () => {
  it.each([
    [[0, 0], '0'],
    [[0, 5], '5'],
    [[1, 5], '1000000005'],
    [[1_764_547_200, 120_000_000], '1764547200120000000'],
    [[1_764_547_200, 999_999_999], '1764547200999999999'],
    [[4_102_444_800, 7], '4102444800000000007'],
  ] as const)('%j is %s ns since the epoch', (time, nanos) => {
    expect(hrTimeToNanos([time[0], time[1]])).toBe(nanos);
  });
});

describe('spanToRecord', () => {
  it('keeps the SDK span: ids, OTLP kind, exact times, status, attributes and events', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': 'svc' }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const span = provider.getTracer('scope-a').startSpan('cache.get articles', { kind: SpanKind.CLIENT, attributes: { 'cache.hits': 2 }, startTime: [1_764_547_200, 5] });
    span.addEvent('evicted', { 'cache.key': 'a1' }, [1_764_547_200, 500_000_000]);
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    span.end([1_764_547_201, 0]);
    await provider.forceFlush();
    const [finished] = exporter.getFinishedSpans();
    const record = spanToRecord(finished!);
    expect(record).toMatchObject({
      traceId: finished!.spanContext().traceId,
      spanId: finished!.spanContext().spanId,
      parentSpanId: null,
      name: 'cache.get articles',
      kind: 3,
      service: 'svc',
      scope: 'scope-a',
      startTimeUnixNano: '1764547200000000005',
      endTimeUnixNano: '1764547201000000000',
      statusCode: 2,
      statusMessage: 'boom',
      attributes: { 'cache.hits': 2 },
      events: [{ name: 'evicted', timeUnixNano: '1764547200500000000', attributes: { 'cache.key': 'a1' } }],
      links: [],
      trusted: true,
    });
  });
});
