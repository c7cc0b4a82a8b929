import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { hrTimeToNanos, spanToRecord } from '../src/telemetry/sdk-to-records.js';

const bigIntNanos = (seconds: number, nanos: number): string => (BigInt(seconds) * 1_000_000_000n + BigInt(nanos)).toString();

describe('hrTimeToNanos', () => {
  it.each([
    [0, 0],
    [0, 5],
    [0, 999_999_999],
    [1, 0],
    [1, 5],
    [1_764_547_200, 1],
    [1_764_547_200, 120_000_000],
    [1_764_547_200, 999_999_999],
    [4_102_444_800, 7],
  ])('[%i, %i] is the decimal nanoseconds BigInt arithmetic gives', (seconds, nanos) => {
    expect(hrTimeToNanos([seconds, nanos])).toBe(bigIntNanos(seconds, nanos));
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
