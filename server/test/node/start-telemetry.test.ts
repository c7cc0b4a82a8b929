/**
 * The quick start end to end in one process: startTelemetry's own span exporter and
 * impressions/latency aggregation deliver to a real collector, with the service token, and
 * the collector stores and trusts what the SDK path would have sent.
 */
import { trace } from '@opentelemetry/api';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { experimentMiddleware, getExperimentContext, loadExperiments, recordServed, startTelemetry, type RunningTelemetry } from '../../src/node/index.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { readAuth, TEST_READ_TOKEN, tempDir } from '../helpers.js';
import { listen, PARENT, TRACE_ID } from './middleware-harness.js';

const TOKEN = 'team-service-token-0123456789';
const EXPERIMENTS_FILE = 'config/experiments.json';

let collector: RunningServer;
let telemetry: RunningTelemetry;

beforeAll(async () => {
  const config = loadConfig({ PORT: '0', DATA_DIR: tempDir('start-telemetry'), EXPERIMENTS_FILE, SERVICE_TOKENS: TOKEN, METRIC_INTERVAL_MS: '100000', READ_TOKEN: TEST_READ_TOKEN, RETENTION_MAX_AGE_HOURS: '0' }, { demo: false });
  collector = await startServer(config);
  telemetry = startTelemetry({ serviceName: 'my-recs', collectorUrl: collector.url, token: TOKEN, metricIntervalMs: 3_600_000, spanDelayMs: 3_600_000 });
});

afterAll(async () => {
  await telemetry.shutdown();
  await collector.close();
});

/** The README's quick start app: the middleware on `/api`, and `handler` for `GET /api/recommendations`. */
function quickStartApp(handler: express.RequestHandler): express.Express {
  const app = express();
  app.use('/api', experimentMiddleware({ experiments: loadExperiments(EXPERIMENTS_FILE), visitorId: (req) => String(req.query.userId ?? '') || undefined }));
  app.get('/api/recommendations', handler);
  return app;
}

describe('startTelemetry with a collector', () => {
  it('delivers both spans, their attributes, events and content ids, and both metrics with the experiment attributes, trusted', async () => {
    const app = quickStartApp((req, res) => {
      getExperimentContext(req);
      res.json({ ...recordServed(req, { count: 3, contentIds: ['story-1', 'story-2', 'story-3'] }), recommendations: [] });
    });
    const server = app.listen(0, '127.0.0.1');
    let body: { requestId: string; baggage: Record<string, string>; trace: { traceId: string; spanId: string } };
    try {
      const url = await listen(server);
      body = await (await fetch(`${url}/api/recommendations?userId=alice`)).json();
      expect((await fetch(`${url}/api/recommendations?userId=alice`)).status).toBe(200);
    } finally {
      server.close();
    }
    await telemetry.flush();
    await collector.flush();

    const { spans } = (await (await fetch(`${collector.url}/api/traces/${body.trace.traceId}`, { headers: readAuth })).json()) as {
      spans: { name: string; spanId: string; trusted: boolean; attributes: Record<string, unknown>; events?: { name: string; attributes: Record<string, unknown> }[] }[];
    };
    expect(spans.map((s) => s.name).sort()).toEqual(['GET /api/recommendations', 'recommendation.request']);
    expect(spans.every((s) => s.trusted)).toBe(true);
    const request = spans.find((s) => s.name === 'recommendation.request')!;
    expect(request.spanId).toBe(body.trace.spanId);
    expect(request.attributes).toMatchObject({ 'recommendation.request_id': body.requestId, 'recommendation.count': 3, 'user.id': 'alice', 'recommendation.content_ids': ['story-1', 'story-2', 'story-3'], ...body.baggage });
    expect(JSON.stringify(request)).toContain('feature_flag.evaluation');

    const points = async (name: string) => ((await (await fetch(`${collector.url}/api/metrics/${name}`, { headers: readAuth })).json()) as { points: { attributes: Record<string, unknown>; value?: unknown; count?: unknown; sum?: unknown }[] }).points;
    const impressions = await points('recommendation.impressions');
    const latency = await points('recommendation.latency');
    expect(impressions.length).toBe(1);
    expect(latency.length).toBe(1);
    const variants = Object.fromEntries(Object.entries(body.baggage).filter(([key]) => key.startsWith('experiment.')));
    expect(Object.keys(variants).length).toBeGreaterThan(0);
    expect(impressions[0]).toMatchObject({ kind: 'sum', value: 6, trusted: true, attributes: variants });
    expect(latency[0]).toMatchObject({ kind: 'histogram', unit: 'ms', count: 2, trusted: true, attributes: variants });
  });
});

interface StoredSpanBody {
  name: string;
  spanId: string;
  parentSpanId: string | null;
  kind: number;
  trusted: boolean;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  status: { code: number };
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
}

describe("startTelemetry's own spans (lean, not the SDK's span path)", () => {
  it('are stored as the SDK would have recorded them: parents, attributes, events, times, and the app\'s own spans under them', async () => {
    const app = quickStartApp((req, res) => {
      // The app's own span, from the global (SDK) tracer, started in the handler's context.
      trace.getTracer('my-recs').startSpan('ranker.rank', { attributes: { 'ranker.items': 2 } }).end();
      res.json({ ...recordServed(req, { count: 2, contentIds: ['story-7', 'story-8'], attributes: { 'recommendation.algorithm': 'rank-v2' } }), recommendations: [] });
    });
    const server = app.listen(0, '127.0.0.1');
    let body: { requestId: string; baggage: Record<string, string>; experiments: Record<string, string>; trace: { traceId: string; spanId: string } };
    const before = BigInt(Date.now()) * 1_000_000n;
    try {
      const url = await listen(server);
      body = await (await fetch(`${url}/api/recommendations?userId=bob`, { headers: { traceparent: `00-${TRACE_ID}-${PARENT}-01` } })).json();
    } finally {
      server.close();
    }
    const after = BigInt(Date.now() + 1) * 1_000_000n;
    await telemetry.flush();
    await collector.flush();

    expect(body.trace.traceId).toBe(TRACE_ID);
    const { spans } = (await (await fetch(`${collector.url}/api/traces/${TRACE_ID}`, { headers: readAuth })).json()) as { spans: StoredSpanBody[] };
    expect(spans.map((s) => s.name).sort()).toEqual(['GET /api/recommendations', 'ranker.rank', 'recommendation.request']);
    const serverSpan = spans.find((s) => s.name === 'GET /api/recommendations')!;
    const request = spans.find((s) => s.name === 'recommendation.request')!;
    const own = spans.find((s) => s.name === 'ranker.rank')!;
    // The caller's trace and parent; the request span and the app's span under the SERVER span.
    expect(serverSpan.parentSpanId).toBe(PARENT);
    expect(serverSpan.kind).toBe(2);
    expect(request.parentSpanId).toBe(serverSpan.spanId);
    expect(request.kind).toBe(1);
    expect(request.spanId).toBe(body.trace.spanId);
    expect(own.parentSpanId).toBe(serverSpan.spanId);
    expect(spans.every((s) => s.trusted && s.status.code === 0)).toBe(true);
    // Every span of the request carries the trusted variants, the app's own included.
    for (const span of spans) expect(span.attributes).toMatchObject(body.baggage);
    expect(serverSpan.attributes).toMatchObject({ 'http.request.method': 'GET', 'url.path': '/api/recommendations', 'http.route': '/api/recommendations', 'http.response.status_code': 200 });
    expect(serverSpan.attributes['user.id']).toBeUndefined();
    expect(request.attributes).toMatchObject({
      'recommendation.algorithm': 'rank-v2',
      'recommendation.request_id': body.requestId,
      'recommendation.count': 2,
      'user.id': 'bob',
      'recommendation.content_ids': ['story-7', 'story-8'],
    });
    expect(own.attributes).toMatchObject({ 'ranker.items': 2 });
    const flags = request.events.filter((e) => e.name === 'feature_flag.evaluation');
    expect(flags.map((e) => [e.attributes['feature_flag.key'], e.attributes['feature_flag.result.variant']]).sort()).toEqual(Object.entries(body.experiments).sort());
    expect(flags.every((e) => e.attributes['feature_flag.provider.name'] === 'variant-lens' && e.attributes['feature_flag.result.reason'] === 'split')).toBe(true);
    // Times in nanoseconds since the epoch, within the request, the request span inside the SERVER span.
    const ns = (s: StoredSpanBody) => [BigInt(s.startTimeUnixNano), BigInt(s.endTimeUnixNano)] as const;
    const [serverStart, serverEnd] = ns(serverSpan);
    const [requestStart, requestEnd] = ns(request);
    expect(serverStart >= before && serverEnd <= after && serverStart <= serverEnd).toBe(true);
    // Both start when the middleware saw the request; the request span ends first.
    expect({ requestStart: requestStart === serverStart, requestEnd: requestEnd <= serverEnd, ordered: requestStart <= requestEnd }).toEqual({ requestStart: true, requestEnd: true, ordered: true });
  });

  it('start together when the assignment is slow (a cold first request): the request span never starts before its SERVER span', async () => {
    const app = express();
    // A visitor id that takes 20 ms, as the first assignment after a start can.
    const slowVisitorId = (req: express.Request) => {
      const until = Date.now() + 20;
      while (Date.now() < until);
      return String(req.query.userId);
    };
    app.use('/api', experimentMiddleware({ experiments: loadExperiments(EXPERIMENTS_FILE), visitorId: slowVisitorId }));
    app.get('/api/recommendations', (req, res) => res.json(recordServed(req, { count: 1 })));
    const server = app.listen(0, '127.0.0.1');
    let body: { trace: { traceId: string } };
    try {
      const url = await listen(server);
      body = await (await fetch(`${url}/api/recommendations?userId=carol`)).json();
    } finally {
      server.close();
    }
    await telemetry.flush();
    await collector.flush();
    const { spans } = (await (await fetch(`${collector.url}/api/traces/${body.trace.traceId}`, { headers: readAuth })).json()) as { spans: StoredSpanBody[] };
    const serverSpan = spans.find((s) => s.name === 'GET /api/recommendations')!;
    const request = spans.find((s) => s.name === 'recommendation.request')!;
    expect(request.parentSpanId).toBe(serverSpan.spanId);
    // The SERVER span covers the assignment: it lasted at least the 20 ms the visitor id took.
    expect(BigInt(serverSpan.endTimeUnixNano) - BigInt(serverSpan.startTimeUnixNano)).toBeGreaterThanOrEqual(19_000_000n);
    expect({ start: BigInt(request.startTimeUnixNano) - BigInt(serverSpan.startTimeUnixNano), endsWithin: BigInt(request.endTimeUnixNano) <= BigInt(serverSpan.endTimeUnixNano) }).toEqual({ start: 0n, endsWithin: true });
  });
});
