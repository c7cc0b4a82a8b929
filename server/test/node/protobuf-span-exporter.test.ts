/** The span exporter of startTelemetry: the service token on every export, the OTLP/HTTP retry policy, failures reported, never thrown. */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ProtobufSpanExporter } from '../../src/node/protobuf-span-exporter.js';
import { listen } from './middleware-harness.js';

function someSpans() {
  const memory = new InMemorySpanExporter();
  const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] }).getTracer('t');
  tracer.startSpan('one', { attributes: { 'recommendation.count': 3 } }).end();
  tracer.startSpan('two').end();
  return memory.getFinishedSpans();
}

/** A collector that answers each export with the next status of `statuses` (200 after them). */
async function collector(statuses: number[]) {
  const received: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.statusCode = statuses.shift() ?? 200;
      res.setHeader('retry-after', '0');
      res.end();
    });
  });
  const url = await listen(server);
  return { url: `${url}/v1/traces`, received, close: () => server.close() };
}

function exportOnce(exporter: ProtobufSpanExporter, spans = someSpans()): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

let stop: (() => void) | undefined;
afterEach(() => stop?.());

describe('ProtobufSpanExporter', () => {
  it('posts the batch as OTLP protobuf with the service token', async () => {
    const sink = await collector([]);
    stop = sink.close;
    const exporter = new ProtobufSpanExporter({ url: sink.url, headers: { authorization: 'Bearer team-token-0123456789' } });
    const spans = someSpans();
    expect((await exportOnce(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
    expect(sink.received).toHaveLength(1);
    expect(sink.received[0]!.headers).toMatchObject({ authorization: 'Bearer team-token-0123456789', 'content-type': 'application/x-protobuf' });
    expect(sink.received[0]!.body).toEqual(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!));
    await exporter.shutdown();
  });

  it('retries 429/502/503/504, and only those', async () => {
    const sink = await collector([503, 429, 200, 400]);
    stop = sink.close;
    const exporter = new ProtobufSpanExporter({ url: sink.url });
    expect((await exportOnce(exporter)).code).toBe(ExportResultCode.SUCCESS);
    expect(sink.received).toHaveLength(3);
    const rejected = await exportOnce(exporter);
    expect(rejected.code).toBe(ExportResultCode.FAILED);
    expect(rejected.error?.message).toContain('400');
    expect(sink.received).toHaveLength(4);
    await exporter.shutdown();
    expect((await exportOnce(exporter)).code).toBe(ExportResultCode.FAILED);
  });

  it('reports an unreachable collector as a failed export', async () => {
    const sink = await collector([]);
    sink.close();
    const exporter = new ProtobufSpanExporter({ url: sink.url, timeoutMs: 500 });
    expect((await exportOnce(exporter)).code).toBe(ExportResultCode.FAILED);
    await exporter.shutdown();
  });
});
