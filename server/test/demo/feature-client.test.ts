import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { propagation } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { FAILURES_BEFORE_PAUSE, FeatureClient, FeatureStoreUnavailableError, PAUSE_MS } from '../../src/demo/feature-store/feature-client.js';

const FEATURES = { userId: 'u1', topicAffinity: {}, tagAffinity: {}, history: [] };

/** A feature store on an ephemeral port answering with `status`, counting what it receives. */
async function featureStore(initial: number): Promise<{ url: string; received: () => number; answer: (status: number) => void; server: Server }> {
  let status = initial;
  let received = 0;
  const server = createServer((_req, res) => {
    received += 1;
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(status === 200 ? FEATURES : { error: 'no' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received: () => received, answer: (s) => (status = s), server };
}

let open: Server | undefined;
afterEach(() => open?.close());

function client(url: string, now: () => number) {
  const exporter = new InMemorySpanExporter();
  const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('test');
  return { features: new FeatureClient(tracer, () => url, 1_000, now), spans: () => exporter.getFinishedSpans() };
}

describe('FeatureClient', () => {
  it(`stops calling a failing store after ${FAILURES_BEFORE_PAUSE} failures in a row, for ${PAUSE_MS} ms, then lets one call through`, async () => {
    const store = await featureStore(503);
    open = store.server;
    let clock = 1_000_000;
    const { features, spans } = client(store.url, () => clock);
    for (let i = 0; i < FAILURES_BEFORE_PAUSE; i += 1) await expect(features.get('u1')).rejects.toThrow('feature store answered 503');
    expect(store.received()).toBe(FAILURES_BEFORE_PAUSE);
    // Paused: degrades at once, the store is not called, and the span says why.
    await expect(features.get('u1')).rejects.toThrow(new FeatureStoreUnavailableError(`feature store not called: it failed 5 times in a row; the next call goes through in ${PAUSE_MS} ms`));
    expect(store.received()).toBe(FAILURES_BEFORE_PAUSE);
    const skipped = spans().at(-1)!;
    expect(skipped.attributes['feature_store.paused']).toBe(true);
    expect(skipped.status).toEqual({ code: 2, message: expect.stringMatching(/^feature store not called/) });
    // After the pause one call goes through; the store is back, so calls flow again.
    clock += PAUSE_MS;
    store.answer(200);
    await expect(features.get('u1')).resolves.toEqual(FEATURES);
    await expect(features.get('u1')).resolves.toEqual(FEATURES);
    expect(store.received()).toBe(FAILURES_BEFORE_PAUSE + 2);
  });

  it('pauses again at once when the trial call fails too', async () => {
    const store = await featureStore(503);
    open = store.server;
    let clock = 0;
    const { features } = client(store.url, () => clock);
    for (let i = 0; i < FAILURES_BEFORE_PAUSE; i += 1) await expect(features.get('u1')).rejects.toThrow();
    clock += PAUSE_MS;
    await expect(features.get('u1')).rejects.toThrow('feature store answered 503');
    await expect(features.get('u1')).rejects.toThrow(/not called/);
    expect(store.received()).toBe(FAILURES_BEFORE_PAUSE + 1);
  });

  it('never pauses for 4xx answers: they are about a request, not the store', async () => {
    const store = await featureStore(400);
    open = store.server;
    const { features } = client(store.url, () => 0);
    for (let i = 0; i < 2 * FAILURES_BEFORE_PAUSE; i += 1) await expect(features.get('u1')).rejects.toThrow('feature store answered 400');
    expect(store.received()).toBe(2 * FAILURES_BEFORE_PAUSE);
  });
});

describe('FeatureClient over HTTP', () => {
  /** A feature store whose handler is given; counts the TCP connections it accepts. */
  async function store(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; connections: () => number }> {
    let connections = 0;
    const server = createServer(handle);
    server.on('connection', () => (connections += 1));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    open = server;
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections };
  }

  it('sends the token and the trace context, and keeps one connection for calls in a row, refused ones included', async () => {
    const seen: IncomingMessage['headers'][] = [];
    let status = 200;
    const { url, connections } = await store((req, res) => {
      seen.push(req.headers);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(status === 200 ? FEATURES : { error: 'no such visitor' }));
    });
    const exporter = new InMemorySpanExporter();
    const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('test');
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    try {
      const features = new FeatureClient(tracer, () => url, 1_000, Date.now, 'internal-token');
      await expect(features.get('u 1/2')).resolves.toEqual(FEATURES);
      status = 404;
      await expect(features.get('u1')).rejects.toThrow('feature store answered 404');
      status = 200;
      await expect(features.get('u1')).resolves.toEqual(FEATURES);
    } finally {
      propagation.disable();
    }
    expect(connections()).toBe(1);
    expect(seen).toHaveLength(3);
    const [first] = exporter.getFinishedSpans();
    expect(seen[0]).toMatchObject({ authorization: 'Bearer internal-token', traceparent: `00-${first!.spanContext().traceId}-${first!.spanContext().spanId}-01` });
    expect(exporter.getFinishedSpans().map((s) => s.attributes['http.response.status_code'])).toEqual([200, 404, 200]);
  });

  it('gives up on an answer whose body is still coming when the timeout passes', async () => {
    const { url } = await store((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"userId":');
    });
    const features = new FeatureClient(new BasicTracerProvider().getTracer('test'), () => url, 100);
    const started = Date.now();
    await expect(features.get('u1')).rejects.toThrow(new FeatureStoreUnavailableError('feature store did not answer within 100 ms'));
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('counts an answer that is not JSON, and a store that is not there, as failures', async () => {
    const { url } = await store((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"userId":'));
    const { features } = client(url, () => 0);
    await expect(features.get('u1')).rejects.toThrow(/^feature store unreachable: /);
    const gone = client('http://127.0.0.1:9', () => 0).features;
    await expect(gone.get('u1')).rejects.toThrow(/^feature store unreachable: .*ECONNREFUSED/);
  });
});
