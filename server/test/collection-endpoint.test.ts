import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync, deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AggregationTemporalityPreference, OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OTLPMetricProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPTraceProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { decodeStatus, encodeExportResponse, encodeTraceProtobuf } from '../src/core/otlp-protobuf.js';
import type { RunningDemo as RunningServer } from '../src/demo/index.js';
import { AnalysisStore } from '../src/store/analysis-store.js';
import { IngestOverloadedError } from '../src/ingest/ingest-pool.js';
import { hexId, otlpSpan, otlpTraces, readAuth, startTestServer } from './helpers.js';

let server: RunningServer & { dataDir: string };
/** The token the deployment's own services send: their telemetry is stored as trusted. */
const INTERNAL_TOKEN = 'collection-endpoint-test-token';

beforeAll(async () => {
  server = await startTestServer({ MAX_BODY_BYTES: String(256 * 1024), CORS_ORIGINS: 'https://news.example', INTERNAL_TELEMETRY_TOKEN: INTERNAL_TOKEN });
});

afterAll(async () => {
  await server.close();
});

async function post(path: string, body: Buffer | string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: 'POST', body: typeof body === 'string' ? body : new Uint8Array(body), headers });
}

const json = { 'content-type': 'application/json' };

async function exportSpanWith(exporter: SpanExporter, name: string) {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'exporter-test', 'session.id': 'abc' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('exporter-test-scope');
  const parent = tracer.startSpan('parent');
  const span = tracer.startSpan(
    name,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'experiment.rec_algorithm': 'hybrid',
        'recommendation.position': 4,
        'score': 0.25,
        'flag': true,
        'tags': ['a', 'b'],
      },
      links: [{ context: parent.spanContext(), attributes: { why: 'served' } }],
    },
  );
  span.addEvent('rendered', { count: 3 });
  span.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
  span.end();
  parent.end();
  await provider.forceFlush();
  await provider.shutdown();
  return { span, parent };
}

describe('official OpenTelemetry exporters as clients', () => {
  it.each([
    ['OTLP/HTTP JSON', () => new OTLPTraceExporter({ url: `${server.url}/v1/traces` })],
    ['OTLP/HTTP protobuf', () => new OTLPTraceProtoExporter({ url: `${server.url}/v1/traces` })],
  ])('reads back exactly what the %s trace exporter sent', async (_label, make) => {
    const { span, parent } = await exportSpanWith(make(), `click ${_label}`);
    const response = await fetch(`${server.url}/api/traces/${span.spanContext().traceId}`, { headers: readAuth });
    const { spans } = (await response.json()) as { spans: any[] };
    const stored = spans.find((s) => s.spanId === span.spanContext().spanId);
    expect(stored).toMatchObject({
      traceId: span.spanContext().traceId,
      name: `click ${_label}`,
      kind: 3,
      service: 'exporter-test',
      status: { code: 2, message: 'boom' },
      trusted: false,
      attributes: { 'experiment.rec_algorithm': 'hybrid', 'recommendation.position': 4, score: 0.25, flag: true, tags: ['a', 'b'] },
      links: [{ traceId: parent.spanContext().traceId, spanId: parent.spanContext().spanId, attributes: { why: 'served' } }],
    });
    expect(stored.events).toMatchObject([{ name: 'rendered', attributes: { count: 3 } }]);
    const readable = span as unknown as { startTime: [number, number]; endTime: [number, number] };
    const nanos = (t: [number, number]) => (BigInt(t[0]) * 1_000_000_000n + BigInt(t[1])).toString();
    expect(stored.startTimeUnixNano).toBe(nanos(readable.startTime));
    expect(stored.endTimeUnixNano).toBe(nanos(readable.endTime));
  });

  it.each([
    ['OTLP/HTTP JSON', (url: string) => new OTLPMetricExporter({ url, temporalityPreference: AggregationTemporalityPreference.DELTA })],
    ['OTLP/HTTP protobuf', (url: string) => new OTLPMetricProtoExporter({ url, temporalityPreference: AggregationTemporalityPreference.DELTA })],
  ])('reads back counters and histograms from the %s metrics exporter', async (label, make) => {
    const exporter: PushMetricExporter = make(`${server.url}/v1/metrics`);
    const provider = new MeterProvider({
      resource: resourceFromAttributes({ 'service.name': 'exporter-test' }),
      readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 600_000 })],
    });
    const meter = provider.getMeter('m');
    const name = `test.clicks.${label.includes('JSON') ? 'json' : 'proto'}`;
    meter.createCounter(name).add(5, { 'experiment.rec_algorithm': 'control' });
    meter.createHistogram(`${name}.latency`, { unit: 'ms', advice: { explicitBucketBoundaries: [10, 100] } }).record(42, { v: 'x' });
    await provider.forceFlush();
    await provider.shutdown();
    const sums = (await (await fetch(`${server.url}/api/metrics/${name}`, { headers: readAuth })).json()) as { points: any[] };
    expect(sums.points).toMatchObject([{ kind: 'sum', temporality: 1, value: 5, attributes: { 'experiment.rec_algorithm': 'control' } }]);
    const histograms = (await (await fetch(`${server.url}/api/metrics/${name}.latency`, { headers: readAuth })).json()) as { points: any[] };
    expect(histograms.points).toMatchObject([
      { kind: 'histogram', unit: 'ms', count: 1, sum: 42, bucketCounts: [0, 1, 0], explicitBounds: [10, 100] },
    ]);
  });
});

describe('OTLP/HTTP status codes', () => {
  const good = (n: number) => otlpSpan(hexId(n, 16), hexId(n, 8));

  it('accepts gzip and deflate bodies', async () => {
    const gz = await post('/v1/traces', gzipSync(JSON.stringify(otlpTraces([good(0xa1)]))), { ...json, 'content-encoding': 'gzip' });
    const df = await post('/v1/traces', deflateSync(JSON.stringify(otlpTraces([good(0xa2)]))), { ...json, 'content-encoding': 'deflate' });
    expect([gz.status, df.status]).toEqual([200, 200]);
    expect((await fetch(`${server.url}/api/traces/${hexId(0xa2, 16)}`, { headers: readAuth })).status).toBe(200);
  });

  it('answers partial success in the request encoding, storing the valid spans', async () => {
    const bad = { ...good(0xb1), spanId: 'zz' };
    const response = await post('/v1/traces', JSON.stringify(otlpTraces([good(0xb2), bad])), json);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ partialSuccess: { rejectedSpans: 1, errorMessage: expect.stringMatching(/spanId is invalid/) } });
    // The same request as protobuf gets a protobuf ExportTraceServiceResponse.
    const protoBody = protobufTraceBody([good(0xb3), { ...good(0xb4), name: '' }]);
    const proto = await post('/v1/traces', protoBody, { 'content-type': 'application/x-protobuf' });
    expect(proto.status).toBe(200);
    expect(proto.headers.get('content-type')).toMatch(/^application\/x-protobuf/);
    const expected = Buffer.from(encodeExportResponse('traces', { partialSuccess: { rejectedSpans: 1, errorMessage: `span ${hexId(0xb4, 8)} has no name` } }));
    expect(Buffer.from(await proto.arrayBuffer())).toEqual(expected);
    expect((await fetch(`${server.url}/api/traces/${hexId(0xb3, 16)}`, { headers: readAuth })).status).toBe(200);
  });

  it('refuses malformed bodies with 400, other content types with 415', async () => {
    expect((await post('/v1/traces', '{', json)).status).toBe(400);
    expect((await post('/v1/traces', '[]', json)).status).toBe(400);
    expect((await post('/v1/traces', Buffer.from([0xff, 0xff, 0xff]), { 'content-type': 'application/x-protobuf' })).status).toBe(400);
    const wrong = await post('/v1/traces', 'x', { 'content-type': 'text/plain' });
    expect(wrong.status).toBe(415);
    expect((await wrong.json()).error).toMatch(/text\/plain is not supported/);
  });

  it('answers every error with a Status in the request\'s encoding, as OTLP/HTTP prescribes', async () => {
    const protobufHeaders = { 'content-type': 'application/x-protobuf' };
    const cases = [
      ['/v1/traces', Buffer.from([0xff, 0xff, 0xff]), 400, /^body is not an OTLP export request/],
      ['/v1/traces', Buffer.alloc(300 * 1024, 0x0a), 413, /^body is larger than the limit of 262144 bytes \(MAX_BODY_BYTES\)$/],
      ['/v1/logs', Buffer.from([]), 404, /^logs are not collected here/],
    ] as const;
    for (const [path, body, status, message] of cases) {
      const response = await post(path, body, protobufHeaders);
      expect(response.status).toBe(status);
      expect(response.headers.get('content-type')).toBe('application/x-protobuf');
      expect(decodeStatus(new Uint8Array(await response.arrayBuffer())).message).toMatch(message);
    }
    // No bytes are an empty protobuf request, accepted; an empty JSON body is not JSON.
    const empty = await post('/v1/traces', Buffer.from([]), protobufHeaders);
    expect(empty.status).toBe(200);
    expect(empty.headers.get('content-type')).toBe('application/x-protobuf');
    expect((await post('/v1/traces', '', json)).status).toBe(400);
    const jsonError = await post('/v1/traces', '{', json);
    expect(jsonError.headers.get('content-type')).toMatch(/^application\/json/);
    const parsed = await jsonError.json();
    expect(parsed.message).toMatch(/^body is not an OTLP export request/);
    expect(parsed.error).toBe(parsed.message);
  });

  it('refuses a body over the limit, and a small gzip body that inflates past it, with 413', async () => {
    const big = JSON.stringify(otlpTraces([{ ...good(0xc1), name: 'x'.repeat(300 * 1024) }]));
    expect((await post('/v1/traces', big, json)).status).toBe(413);
    const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(256 * 1024);
    const response = await post('/v1/traces', bomb, { ...json, 'content-encoding': 'gzip' });
    expect(response.status).toBe(413);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('names the encoding when a compressed body cannot be inflated, and refuses unknown encodings with 415', async () => {
    const corrupt = await post('/v1/traces', Buffer.from('not gzip at all'), { ...json, 'content-encoding': 'gzip' });
    expect(corrupt.status).toBe(400);
    expect((await corrupt.json()).error).toBe('body is not valid gzip (incorrect header check)');
    const unknown = await post('/v1/traces', Buffer.from('{}'), { ...json, 'content-encoding': 'compress' });
    expect(unknown.status).toBe(415);
    expect((await unknown.json()).error).toBe('content-encoding compress is not supported, expected gzip, deflate or br (or none)');
  });

  it('answers overload with 503 and Retry-After, and the retry is stored', async () => {
    const body = JSON.stringify(otlpTraces([good(0xf1)]));
    const spy = vi.spyOn(server.ingestPool, 'ingest').mockRejectedValueOnce(new IngestOverloadedError('ingest queue is full'));
    const refused = await post('/v1/traces', body, json);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect((await refused.json()).error).toMatch(/overloaded/);
    spy.mockRestore();
    expect((await post('/v1/traces', body, json)).status).toBe(200);
    expect((await fetch(`${server.url}/api/traces/${hexId(0xf1, 16)}`, { headers: readAuth })).status).toBe(200);
  });

  it('stores a retried export once', async () => {
    const body = JSON.stringify(otlpTraces([good(0xd1), good(0xd2)]));
    await post('/v1/traces', body, json);
    await post('/v1/traces', body, json);
    const { spans } = (await (await fetch(`${server.url}/api/traces/${hexId(0xd1, 16)}`, { headers: readAuth })).json()) as { spans: unknown[] };
    expect(spans).toHaveLength(1);
  });

  it('answers /v1/logs with a clear 404', async () => {
    const response = await post('/v1/logs', '{}', json);
    expect(response.status).toBe(404);
    expect((await response.json()).error).toMatch(/logs are not collected/);
  });
});

describe('CORS for browsers', () => {
  it('lets a configured origin preflight with the propagation headers', async () => {
    const response = await fetch(`${server.url}/v1/traces`, {
      method: 'OPTIONS',
      headers: { origin: 'https://news.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,baggage' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://news.example');
    const allowed = response.headers.get('access-control-allow-headers') ?? '';
    for (const header of ['content-type', 'traceparent', 'tracestate', 'baggage']) expect(allowed).toContain(header);
  });

  it('lets a configured origin\'s script read Retry-After', async () => {
    const response = await post('/v1/traces', JSON.stringify(otlpTraces([otlpSpan(hexId(0xe1, 16), hexId(0xe1, 8))])), { ...json, origin: 'https://news.example' });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-expose-headers')).toBe('Retry-After');
  });

  it('gives other origins no CORS grant', async () => {
    const response = await fetch(`${server.url}/v1/traces`, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('bounds under real load', () => {
  const good = (n: number) => otlpSpan(hexId(n, 16), hexId(n, 8));
  const bodyOf = (first: number, count: number) => JSON.stringify(otlpTraces(Array.from({ length: count }, (_, i) => good(first + i))));

  it('refuses what is beyond INGEST_MAX_IN_FLIGHT_BYTES with 503 and Retry-After, and stores everything it accepted', async () => {
    const small = await startTestServer({ INGEST_MAX_IN_FLIGHT_BYTES: '4096' });
    try {
      const bodies = Array.from({ length: 20 }, (_, r) => bodyOf(0x10_0000 + r * 100, 100));
      const responses = await Promise.all(bodies.map((body) => fetch(`${small.url}/v1/traces`, { method: 'POST', body, headers: json })));
      const statuses = responses.map((r) => r.status);
      expect(new Set(statuses)).toEqual(new Set([200, 503]));
      for (const refused of responses.filter((r) => r.status === 503)) expect(refused.headers.get('retry-after')).toBe('1');
      await small.flush();
      expect(small.store.spanCount()).toBe(statuses.filter((s) => s === 200).length * 100);
    } finally {
      await small.close();
    }
  });

  it('reports itself unhealthy once an ingest worker has died, instead of answering ok while refusing every export', async () => {
    const crashed = await startTestServer();
    try {
      expect((await fetch(`${crashed.url}/healthz`)).status).toBe(200);
      // A worker thread dying (out of memory, a native crash) is what this stands for.
      const [slot] = (crashed.ingestPool as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots;
      await slot!.worker.terminate();
      const health = await fetch(`${crashed.url}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: 'unavailable', reason: 'the telemetry store cannot be written' });
      expect((await fetch(`${crashed.url}/v1/traces`, { method: 'POST', body: bodyOf(0x30_0000, 1), headers: json })).status).toBe(503);
    } finally {
      await crashed.close().catch(() => undefined);
    }
  });

  it('keeps accepting while retention deletes: cleanup and ingest take turns at the one SQLite writer', async () => {
    // The interval never fires in the test: each wave's posts run beside a cleanup pass the test starts and awaits.
    const trimmed = await startTestServer({ RETENTION_MAX_SPANS: '300', RETENTION_INTERVAL_MS: '86400000', RETENTION_MAX_AGE_HOURS: '0' });
    try {
      const statuses: number[] = [];
      let deleted = 0;
      for (let wave = 0; wave < 15; wave += 1) {
        const bodies = Array.from({ length: 8 }, (_, r) => bodyOf(0x20_0000 + (wave * 8 + r) * 100, 100));
        const posts = Promise.all(bodies.map((body) => fetch(`${trimmed.url}/v1/traces`, { method: 'POST', body, headers: json })));
        const [pass, responses] = await Promise.all([trimmed.retention.runOnce(), posts]);
        deleted += pass;
        statuses.push(...responses.map((r) => r.status));
      }
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      await trimmed.flush();
      deleted += await trimmed.retention.runOnce();
      expect(deleted).toBeGreaterThan(0);
      expect(trimmed.store.spanCount()).toBeLessThanOrEqual(300);
    } finally {
      await trimmed.close();
    }
  });
});

describe('metric totals with both temporalities', () => {
  function sumRequest(temporality: 1 | 2, points: { start: string; time: string; value: number; session: string }[]) {
    return {
      resourceMetrics: points.map((p) => ({
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'web' } }, { key: 'session.id', value: { stringValue: p.session } }] },
        scopeMetrics: [
          {
            scope: { name: 's' },
            metrics: [
              {
                name: 'recommendation.click_through',
                sum: {
                  aggregationTemporality: temporality,
                  isMonotonic: true,
                  dataPoints: [{ startTimeUnixNano: p.start, timeUnixNano: p.time, asInt: String(p.value), attributes: [{ key: 'experiment.rec_algorithm', value: { stringValue: 'hybrid' } }] }],
                },
              },
            ],
          },
        ],
      })),
    };
  }

  it('adds delta points, takes the latest cumulative value per stream, adds restarted streams, and counts a resent batch once', async () => {
    // Delta: 2 + 3 = 5. The batch arrives twice (a page resending what it never saw answered).
    const delta = JSON.stringify(sumRequest(1, [{ start: '1', time: '2', value: 2, session: 'd' }, { start: '2', time: '3', value: 3, session: 'd' }]));
    for (let copy = 0; copy < 2; copy += 1) expect((await post('/v1/metrics', delta, json)).status).toBe(200);
    // Cumulative stream s1: 4 then 7 (latest 7); after a restart (new start time) 2; stream s2: 10.
    const cumulative = JSON.stringify(
      sumRequest(2, [
        { start: '100', time: '200', value: 4, session: 's1' },
        { start: '100', time: '300', value: 7, session: 's1' },
        { start: '400', time: '500', value: 2, session: 's1' },
        { start: '100', time: '200', value: 10, session: 's2' },
      ]),
    );
    for (let copy = 0; copy < 2; copy += 1) expect((await post('/v1/metrics', cumulative, json)).status).toBe(200);
    // A later delta point of the same stream is a new point.
    await post('/v1/metrics', JSON.stringify(sumRequest(1, [{ start: '3', time: '4', value: 1, session: 'd' }])), json);
    // Read back the way the analysis reads it.
    const analysis = new AnalysisStore(join(server.dataDir, 'telemetry.db'));
    try {
      const totals = analysis.metricSums('recommendation.click_through', 'experiment.rec_algorithm', { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER });
      expect(Object.fromEntries(totals)).toEqual({ hybrid: 5 + 1 + 7 + 2 + 10 });
    } finally {
      analysis.close();
    }
  });

  it('keeps a cumulative histogram\'s buckets, counting each stream\'s latest point, and only the server\'s own for latency', async () => {
    const histogram = (session: string, points: { time: string; counts: number[] }[]) => ({
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'variant-lens' } }, { key: 'session.id', value: { stringValue: session } }] },
          scopeMetrics: [
            {
              scope: { name: 's' },
              metrics: [
                {
                  name: 'recommendation.latency',
                  unit: 'ms',
                  histogram: {
                    aggregationTemporality: 2,
                    dataPoints: points.map((p) => ({
                      startTimeUnixNano: '100',
                      timeUnixNano: p.time,
                      count: String(p.counts.reduce((a, b) => a + b, 0)),
                      sum: 1,
                      bucketCounts: p.counts.map(String),
                      explicitBounds: [10],
                      attributes: [{ key: 'experiment.rec_algorithm', value: { stringValue: 'collaborative' } }],
                    })),
                  },
                },
              ],
            },
          ],
        },
      ],
    });
    const internal = { ...json, authorization: `Bearer ${INTERNAL_TOKEN}` };
    // Trusted stream: 1+1 at 200, then 2+3 at 300 (its latest). A browser's stream of the same metric is not counted.
    expect((await post('/v1/metrics', JSON.stringify(histogram('own', [{ time: '200', counts: [1, 1] }, { time: '300', counts: [2, 3] }])), internal)).status).toBe(200);
    expect((await post('/v1/metrics', JSON.stringify(histogram('forged', [{ time: '300', counts: [50, 50] }])), json)).status).toBe(200);
    const analysis = new AnalysisStore(join(server.dataDir, 'telemetry.db'));
    try {
      const points = analysis.histogramPoints('recommendation.latency', 'experiment.rec_algorithm', { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER });
      expect(points.filter((p) => p.variant === 'collaborative').map((p) => [JSON.parse(p.bucketCounts), JSON.parse(p.explicitBounds)])).toEqual([[[2, 3], [10]]]);
    } finally {
      analysis.close();
    }
  });

  it('answers a metrics export with invalid points as a partial success naming them, storing the rest', async () => {
    const body = sumRequest(1, [{ start: '1', time: '9', value: 4, session: 'partial' }]);
    const metric = (body.resourceMetrics[0]!.scopeMetrics[0]!.metrics as unknown[])[0] as { sum: { dataPoints: unknown[] } };
    metric.sum.dataPoints.push({ timeUnixNano: 'yesterday', asInt: '1' }, { timeUnixNano: '9' });
    const response = await post('/v1/metrics', JSON.stringify(body), json);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      partialSuccess: { rejectedDataPoints: 2, errorMessage: 'metric recommendation.click_through: data point timeUnixNano is invalid; metric recommendation.click_through: data point has no asDouble or asInt' },
    });
  });
});

describe('forwarding to an upstream collector', () => {
  let upstream: Server;
  let received: { path: string; type: string; body: Buffer }[] = [];
  let failuresLeft = 2;

  beforeAll(async () => {
    upstream = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          res.writeHead(503, { 'retry-after': '0' }).end();
          return;
        }
        received.push({ path: req.url ?? '', type: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => upstream.listen(0, r));
  });

  afterAll(() => new Promise<void>((r) => upstream.close(() => r())));

  it('forwards every accepted batch, retrying 503s', async () => {
    const port = (upstream.address() as AddressInfo).port;
    const forwarding = await startTestServer({ OTLP_FORWARD_URL: `http://127.0.0.1:${port}` });
    try {
      received = [];
      const body = JSON.stringify(otlpTraces([otlpSpan(hexId(0xe1, 16), hexId(0xe1, 8))]));
      expect((await fetch(`${forwarding.url}/v1/traces`, { method: 'POST', body, headers: json })).status).toBe(200);
      // Forwarded re-encoded and marked with its source (trust-marking.test.ts), so matched by its span id.
      await vi.waitFor(() => expect(received.filter((r) => r.path === '/v1/traces' && r.body.toString().includes(hexId(0xe1, 8)))).toHaveLength(1), { timeout: 5000 });
      expect(forwarding.forwarder!.stats.retried).toBeGreaterThanOrEqual(2);
      expect(received[0]!.type).toBe('application/json');
    } finally {
      await forwarding.close();
    }
  });
});

function protobufTraceBody(spans: Record<string, unknown>[]): Buffer {
  return Buffer.from(encodeTraceProtobuf(otlpTraces(spans)));
}
