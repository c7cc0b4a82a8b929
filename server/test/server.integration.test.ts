import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { RunningDemo as RunningServer } from '../src/demo/index.js';
import { hexId, otlpSpan, otlpTraces, readAuth, startTestServer } from './helpers.js';

let server: RunningServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server.close();
});

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.url}${path}`, { headers: { ...readAuth, ...headers } });
  return { status: response.status, body: await response.json() };
}

async function post(path: string, body: string, contentType = 'application/json'): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'content-type': contentType } });
  return { status: response.status, body: await response.json() };
}

async function traceOf(traceId: string): Promise<any[]> {
  await server.flush();
  const { status, body } = await get(`/api/traces/${traceId}`);
  expect(status).toBe(200);
  return body.spans;
}

const PARENT = '00f067aa0ba902b7';
/** A visitor assigned hybrid and recency_boost by the shipped experiments file. */
const DAVE = 'dave';

describe('recommendations', () => {
  it('serves a list with the assignment, a request span and experiment attributes on the server span', async () => {
    const traceId = '11111111111111111111111111111111';
    const { status, body } = await get('/api/recommendations?userId=alice&limit=6', {
      traceparent: `00-${traceId}-${PARENT}-01`,
    });
    expect(status).toBe(200);
    const { body: assigned } = await get('/api/assignments?userId=alice');
    expect(body.experiments).toEqual(assigned.experiments);
    expect(body.baggage).toEqual(assigned.baggage);
    expect(body.recommendations).toHaveLength(6);
    expect(body.recommendations.map((r: any) => r.position)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(body.requestId).toMatch(/^[0-9a-z]{9}[A-Za-z0-9_-]{16}$/);

    const spans = await traceOf(traceId);
    const serverSpan = spans.find((s) => s.name === 'GET /api/recommendations');
    const request = spans.find((s) => s.name === 'recommendation.request');
    expect(serverSpan.parentSpanId).toBe(PARENT);
    expect(request.parentSpanId).toBe(serverSpan.spanId);
    expect(request.attributes).toMatchObject({
      'experiment.rec_algorithm': assigned.baggage['experiment.rec_algorithm'],
      'experiment.ranking_boost': assigned.baggage['experiment.ranking_boost'],
      'user.id': 'alice',
      'recommendation.count': 6,
      'recommendation.request_id': body.requestId,
    });
    expect(serverSpan.attributes['experiment.rec_algorithm']).toBe(assigned.baggage['experiment.rec_algorithm']);
    expect(serverSpan.attributes['user.id']).toBeUndefined();
    const flagEvents = request.events.filter((e: any) => e.name === 'feature_flag.evaluation');
    expect(flagEvents.map((e: any) => e.attributes['feature_flag.key']).sort()).toEqual(['ranking_boost_v2', 'rec_algorithm_v3']);
  });

  it('gives two requests unguessable, different request ids', async () => {
    const a = await get('/api/recommendations?userId=bob');
    const b = await get('/api/recommendations?userId=bob');
    expect(a.body.requestId).not.toBe(b.body.requestId);
    expect(a.body.recommendations.map((r: any) => r.contentId)).toEqual(b.body.recommendations.map((r: any) => r.contentId));
  });

  it('does not believe spoofed baggage: the assignment wins and the mismatch is recorded', async () => {
    const { body: assigned } = await get('/api/assignments?userId=carol');
    const spoofed = ['control', 'collaborative', 'hybrid'].find((v) => v !== assigned.baggage['experiment.rec_algorithm'])!;
    const traceId = '22222222222222222222222222222222';
    const { body } = await get('/api/recommendations?userId=carol', {
      traceparent: `00-${traceId}-${PARENT}-01`,
      baggage: `experiment.rec_algorithm=${spoofed},user.id=carol,evil.key=1`,
    });
    expect(body.baggage['experiment.rec_algorithm']).toBe(assigned.baggage['experiment.rec_algorithm']);
    const spans = await traceOf(traceId);
    for (const span of spans) expect(span.attributes['experiment.rec_algorithm']).toBe(assigned.baggage['experiment.rec_algorithm']);
    const serverSpan = spans.find((s) => s.kind === 2);
    expect(serverSpan.attributes['experiment.baggage_mismatch']).toBe(true);
    expect(serverSpan.attributes['evil.key']).toBeUndefined();
    expect(serverSpan.attributes['user.id']).toBeUndefined();
  });

  it('answers bad input with a 4xx naming the problem', async () => {
    expect(await get('/api/recommendations')).toMatchObject({ status: 400, body: { error: 'userId is required' } });
    expect((await get('/api/recommendations?userId=a&limit=0')).body.error).toMatch(/^limit is invalid/);
    expect((await get('/api/recommendations?userId=a&limit=abc')).status).toBe(400);
    expect((await get(`/api/recommendations?userId=${'x'.repeat(200)}`)).body.error).toMatch(/^userId is invalid/);
    expect((await get('/api/content/nope')).status).toBe(404);
    expect((await get('/api/content/%3Cscript%3E')).body.error).toMatch(/content id is invalid/);
    expect((await get('/api/traces/xyz')).body.error).toMatch(/traceId is invalid/);
    expect(await get('/no/such/route')).toMatchObject({ status: 404, body: { error: 'no route for GET /no/such/route' } });
  });

  it('answers a browser asking for an unknown page with an HTML 404, and API clients with JSON', async () => {
    const page = await fetch(`${server.url}/no/such/page&x'<y>`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(page.status).toBe(404);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('/no/such/page&amp;x&#39;%3Cy%3E');
    expect(html).not.toMatch(/&x'/);
    expect(html).toMatch(/<a href="\/">/);
    for (const path of ['/api/nope', '/v1/nope']) {
      expect(await get(path, { accept: 'text/html' })).toMatchObject({ status: 404, body: { error: `no route for GET ${path}` } });
    }
    expect(await get('/nope', { accept: 'application/json' })).toMatchObject({ status: 404, body: { error: 'no route for GET /nope' } });
  });

  it('serves an article whose server span carries the visitor\'s experiment attributes', async () => {
    const { body: recs } = await get('/api/recommendations?userId=dave');
    const contentId = recs.recommendations[0].contentId;
    const traceId = '33333333333333333333333333333333';
    // The visitor's variants come from the server's assignment; the baggage says the same, as a browser's SDK would.
    const { status, body } = await get(`/api/content/${contentId}?userId=${DAVE}`, {
      traceparent: `00-${traceId}-${PARENT}-01`,
      baggage: 'experiment.rec_algorithm=hybrid,experiment.ranking_boost=recency_boost',
    });
    expect(status).toBe(200);
    expect(body.contentId).toBe(contentId);
    const spans = await traceOf(traceId);
    const span = spans.find((s) => s.kind === 2);
    expect(span.name).toBe('GET /api/content/:id');
    // The article is read with a database client span, carrying the variant too.
    const db = spans.find((s) => s.attributes['db.system.name'] === 'sqlite');
    expect(db).toMatchObject({ kind: 3, parentSpanId: span.spanId, attributes: { 'db.collection.name': 'articles', 'experiment.rec_algorithm': 'hybrid' } });
    expect(span.attributes).toMatchObject({ 'experiment.rec_algorithm': 'hybrid', 'experiment.ranking_boost': 'recency_boost' });
  });
});

describe('collection endpoint', () => {
  it('stores what the official OTLP/HTTP trace exporter sends, as client-reported', async () => {
    const exporter = new OTLPTraceExporter({ url: `${server.url}/v1/traces` });
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'browser-test' }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const span = provider.getTracer('test').startSpan('recommendation.click', {
      attributes: { 'content.id': 'a00001', 'recommendation.position': 2, 'recommendation.request_id': 'req-1' },
    });
    span.end();
    await provider.forceFlush();
    await provider.shutdown();
    const stored = await traceOf(span.spanContext().traceId);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      name: 'recommendation.click',
      service: 'browser-test',
      trusted: false,
      attributes: { 'content.id': 'a00001', 'recommendation.position': 2, 'recommendation.request_id': 'req-1' },
    });
    const { body } = await get('/api/spans?name=recommendation.click&requestId=req-1');
    expect(body.spans.map((s: any) => s.spanId)).toEqual([span.spanContext().spanId]);
  });

  it('stores what the official OTLP/HTTP metrics exporter sends', async () => {
    const reader = new PeriodicExportingMetricReader({
      exporter: new OTLPMetricExporter({ url: `${server.url}/v1/metrics` }),
      exportIntervalMillis: 60_000,
    });
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'browser-test' }), readers: [reader] });
    provider.getMeter('test').createCounter('test.clicks').add(3, { 'experiment.rec_algorithm': 'hybrid' });
    await provider.forceFlush();
    await provider.shutdown();
    const { body } = await get('/api/metrics/test.clicks');
    // Cumulative by default: flush and shutdown each export the running total, 3.
    expect(body.points.length).toBeGreaterThanOrEqual(1);
    for (const point of body.points) {
      expect(point).toMatchObject({ value: 3, kind: 'sum', temporality: 2, trusted: false, attributes: { 'experiment.rec_algorithm': 'hybrid' } });
    }
  });

  it('answers 415, 400 and partial success as OTLP/HTTP says', async () => {
    expect((await post('/v1/traces', 'x', 'text/plain')).status).toBe(415);
    expect((await post('/v1/traces', '{not json')).status).toBe(400);
    expect((await post('/v1/traces', '{"resourceSpans": 5}')).status).toBe(400);
    const good = { traceId: '5'.repeat(32), spanId: '6'.repeat(16), name: 'ok', startTimeUnixNano: '1', endTimeUnixNano: '2' };
    const bad = { ...good, spanId: 'nothex' };
    const { status, body } = await post('/v1/traces', JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [good, bad] }] }] }));
    expect(status).toBe(200);
    expect(body.partialSuccess.rejectedSpans).toBe(1);
    expect(body.partialSuccess.errorMessage).toMatch(/spanId is invalid/);
    expect(await traceOf('5'.repeat(32))).toHaveLength(1);
    expect((await post('/v1/logs', '{}')).status).toBe(404);
  });
});

describe('a busy port', () => {
  it('stops the start with a message naming PORT, and leaves nothing open', async () => {
    await expect(startTestServer({ PORT: String(server.port) })).rejects.toThrow(`PORT ${server.port} is already in use`);
    // The server that holds the port still answers.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

describe('reading stored telemetry', () => {
  it('returns up to 100 spans by default and honours limit from 1 to 1000', async () => {
    const spans = Array.from({ length: 160 }, (_, i) => ({ ...otlpSpan(hexId(0x5000 + i, 16), hexId(0x5000 + i, 8)), name: 'limit.test' }));
    expect((await post('/v1/traces', JSON.stringify(otlpTraces(spans)))).status).toBe(200);
    await server.flush();
    expect((await get('/api/spans?name=limit.test')).body.spans).toHaveLength(100);
    expect((await get('/api/spans?name=limit.test&limit=51')).body.spans).toHaveLength(51);
    expect((await get('/api/spans?name=limit.test&limit=150')).body.spans).toHaveLength(150);
    expect((await get('/api/spans?name=limit.test&limit=1000')).body.spans).toHaveLength(160);
    for (const limit of ['0', '1001', 'abc', '2.5']) {
      expect(await get(`/api/spans?name=limit.test&limit=${limit}`)).toMatchObject({
        status: 400,
        body: { error: 'limit is invalid, expected an integer from 1 to 1000' },
      });
    }
  });

  it('returns up to 100 metric points by default and honours limit from 1 to 1000', async () => {
    const dataPoints = Array.from({ length: 120 }, (_, i) => ({
      startTimeUnixNano: '1795000000000000000',
      timeUnixNano: String(1795000000000000000n + BigInt(i + 1) * 1_000_000_000n),
      asInt: String(i),
    }));
    const body = { resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'limit.points', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints } }] }] }] };
    expect((await post('/v1/metrics', JSON.stringify(body))).status).toBe(200);
    await server.flush();
    expect((await get('/api/metrics/limit.points')).body.points).toHaveLength(100);
    expect((await get('/api/metrics/limit.points?limit=5')).body.points.map((p: any) => p.value)).toEqual([119, 118, 117, 116, 115]);
    expect((await get('/api/metrics/limit.points?limit=110')).body.points).toHaveLength(110);
    expect((await get('/api/metrics/limit.points?limit=1000')).body.points).toHaveLength(120);
    for (const limit of ['0', 'abc', '100000']) {
      expect(await get(`/api/metrics/limit.points?limit=${limit}`)).toMatchObject({
        status: 400,
        body: { error: 'limit is invalid, expected an integer from 1 to 1000' },
      });
    }
  });
});
