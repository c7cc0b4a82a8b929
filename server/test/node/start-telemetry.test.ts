/**
 * The quick start end to end in one process: startTelemetry's own span exporter and
 * impressions/latency aggregation deliver to a real collector, with the service token, and
 * the collector stores and trusts what the SDK path would have sent.
 */
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { experimentMiddleware, getExperimentContext, loadExperiments, recordServed, startTelemetry, type RunningTelemetry } from '../../src/node/index.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { readAuth, TEST_READ_TOKEN, tempDir } from '../helpers.js';
import { listen } from './middleware-harness.js';

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

describe('startTelemetry with a collector', () => {
  it('delivers both spans, their attributes, events and content ids, and both metrics with the experiment attributes, trusted', async () => {
    const experiments = loadExperiments(EXPERIMENTS_FILE);
    const app = express();
    app.use('/api', experimentMiddleware({ experiments, visitorId: (req) => String(req.query.userId ?? '') || undefined }));
    app.get('/api/recommendations', (req, res) => {
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
