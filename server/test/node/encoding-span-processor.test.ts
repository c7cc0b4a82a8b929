/** startTelemetry's batch processor: sampled spans, encoded as they end, sent as the serializer would send them. */
import { context, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createServer } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { isTracingSuppressed } from '@opentelemetry/core';
import { EncodingSpanProcessor } from '../../src/node/encoding-span-processor.js';
import { ProtobufSpanExporter } from '../../src/node/protobuf-span-exporter.js';
import { listen } from './middleware-harness.js';

async function sink() {
  const bodies: Buffer[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks));
      res.end();
    });
  });
  return { url: `${await listen(server)}/v1/traces`, bodies, close: () => server.close() };
}

let close: (() => void) | undefined;
afterEach(() => close?.());
// A context manager, as startTelemetry registers one: without it no context (and no suppression) is ever active.
beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterAll(() => {
  context.disable();
});

function setup(url: string, batchBytes?: number) {
  const memory = new InMemorySpanExporter();
  const processor = new EncodingSpanProcessor(new ProtobufSpanExporter({ url }), { scheduledDelayMs: 3_600_000, batchBytes });
  const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory), processor] }).getTracer('t', '1');
  return { processor, tracer, ended: () => memory.getFinishedSpans() };
}

describe('EncodingSpanProcessor', () => {
  it('sends the sampled spans, in the order they ended, as the OpenTelemetry serializer encodes them', async () => {
    const collector = await sink();
    close = collector.close;
    const { processor, tracer, ended } = setup(collector.url);
    const parent = tracer.startSpan('parent');
    const child = tracer.startSpan('child', { attributes: { 'recommendation.content_ids': ['a', 'b'] } }, trace.setSpan(ROOT_CONTEXT, parent));
    child.addEvent('feature_flag.evaluation', { 'feature_flag.key': 'k' });
    child.end();
    parent.end();
    const unsampled = trace.setSpanContext(ROOT_CONTEXT, { traceId: '3'.repeat(32), spanId: '4'.repeat(16), traceFlags: TraceFlags.NONE, isRemote: true });
    tracer.startSpan('not sampled', {}, unsampled).end();
    expect(collector.bodies).toHaveLength(0);
    await processor.forceFlush();
    const sampled = ended();
    expect(sampled.map((s) => s.name)).toEqual(['child', 'parent']);
    expect(collector.bodies).toEqual([Buffer.from(ProtobufTraceSerializer.serializeRequest(sampled)!)]);
    await processor.shutdown();
    tracer.startSpan('after shutdown').end();
    await processor.forceFlush();
    expect(collector.bodies).toHaveLength(1);
  });

  it('sends a batch as soon as it reaches batchBytes, with tracing suppressed for the export', async () => {
    const collector = await sink();
    close = collector.close;
    const { processor, tracer } = setup(collector.url, 2000);
    let suppressed: boolean | undefined;
    const exporter = (processor as unknown as { exporter: ProtobufSpanExporter }).exporter;
    const sendEncoded = exporter.sendEncoded.bind(exporter);
    exporter.sendEncoded = (body) => {
      suppressed = isTracingSuppressed(context.active());
      return sendEncoded(body);
    };
    for (let i = 0; i < 20; i++) tracer.startSpan(`span ${i}`, { attributes: { payload: 'x'.repeat(200) } }).end();
    expect(suppressed).toBe(true);
    await exporter.forceFlush();
    expect(collector.bodies.length).toBeGreaterThan(0);
    await processor.shutdown();
  });
});
