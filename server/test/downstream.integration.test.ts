import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningDemo as RunningServer } from '../src/demo/index.js';
import { LATENCY_BUCKETS_MS } from '../src/node/index.js';
import { readAuth, startTestServer, TEST_INTERNAL_TOKEN } from './helpers.js';

async function getJson(url: string, headers: Record<string, string> = {}): Promise<any> {
  const response = await fetch(url, { headers });
  expect(response.status).toBe(200);
  return response.json();
}

async function storedTrace(server: RunningServer, traceId: string): Promise<any[]> {
  await server.flush();
  const response = await fetch(`${server.url}/api/traces/${traceId}`, { headers: readAuth });
  return response.status === 200 ? ((await response.json()) as { spans: any[] }).spans : [];
}

const VARIANTS = ['control', 'collaborative', 'hybrid'] as const;

/** Generated users (with click histories), `perVariant` of them assigned to each algorithm variant. */
async function usersByVariant(server: RunningServer, perVariant = 1): Promise<Record<string, string[]>> {
  const found: Record<string, string[]> = Object.fromEntries(VARIANTS.map((variant) => [variant, []]));
  for (let i = 1; Object.values(found).some((users) => users.length < perVariant) && i < 200; i += 1) {
    const userId = `u${String(i).padStart(5, '0')}`;
    const { experiments } = await getJson(`${server.url}/api/assignments?userId=${userId}`);
    const users = found[experiments.rec_algorithm_v3]!;
    if (users.length < perVariant) users.push(userId);
  }
  return found;
}

/** Sums a stored metric's points by the algorithm variant they carry. */
function byVariant(points: readonly any[], value: (point: any) => number): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const point of points) {
    const variant = point.attributes['experiment.rec_algorithm'];
    sums[variant] = (sums[variant] ?? 0) + value(point);
  }
  return sums;
}

describe('downstream services, every span sliced by variant', () => {
  let server: RunningServer;
  let users: Record<string, string[]>;
  /** What the test was served, by variant: requests and recommendations. */
  const served: Record<string, { requests: number; recommendations: number }> = {};
  /** The test's own calls to the feature store, by the visitor's variant. */
  const askedDirectly: Record<string, number> = {};

  async function recommendations(userId: string, limit: number, headers: Record<string, string> = {}): Promise<any> {
    const body = await getJson(`${server.url}/api/recommendations?userId=${userId}&limit=${limit}`, headers);
    const variant = body.experiments.rec_algorithm_v3;
    served[variant] ??= { requests: 0, recommendations: 0 };
    served[variant].requests += 1;
    served[variant].recommendations += body.recommendations.length;
    return body;
  }

  beforeAll(async () => {
    // Candidate pools are memoized without a span of their own, so on a warm cache a control
    // request reads nothing from the database. With CONTENT_CACHE_TTL_MS=0 every request
    // reads its pools, neighbours and articles again, and every variant's trace shows the
    // database whichever variant was served first.
    server = await startTestServer({ METRIC_INTERVAL_MS: '500', CONTENT_CACHE_TTL_MS: '0' });
    users = await usersByVariant(server, 2);
    // Every variant is served once before any trace is looked at, so no trace below is a
    // cold server's first request.
    for (const variant of VARIANTS) await recommendations(users[variant]![1]!, 5);
  });

  afterAll(async () => {
    await server.close();
  });

  it.each(VARIANTS)('stores request, feature-store, database and cache spans with the %s user\'s variant', async (variant) => {
    const userId = users[variant]![0]!;
    const assigned = await getJson(`${server.url}/api/assignments?userId=${userId}`);
    const traceId = `${'ab'.repeat(8)}${variant.length.toString(16).padStart(2, '0')}${'cd'.repeat(7)}`;
    const body = await recommendations(userId, 10, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    expect(body.recommendations).toHaveLength(10);
    // The feature store's spans come from its own process, over OTLP, a little later.
    await vi.waitFor(async () => expect((await storedTrace(server, traceId)).some((s) => s.name === 'feature_store.get_features')).toBe(true), {
      timeout: 10_000,
      interval: 200,
    });
    const spans = await storedTrace(server, traceId);
    const names = spans.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['GET /api/recommendations', 'recommendation.request', 'GET /features/:userId', 'feature_store.get_features']));
    const featureStore = spans.find((s) => s.name === 'feature_store.get_features');
    expect(featureStore.service).toBe('feature-store');
    expect(featureStore.trusted).toBe(true);
    expect(featureStore.attributes['features.count']).toBeGreaterThan(0);
    // One span per call in the feature store: its server span, child of the server's client span.
    expect(featureStore.kind).toBe(2);
    expect(featureStore.parentSpanId).toBe(spans.find((s) => s.name === 'GET /features/:userId').spanId);
    expect(spans.filter((s) => s.service === 'feature-store')).toHaveLength(1);
    const db = spans.filter((s) => s.attributes['db.system.name'] === 'sqlite');
    const cache = spans.filter((s) => s.name.startsWith('cache.get'));
    expect(db.length).toBeGreaterThan(0);
    expect(cache.length).toBeGreaterThan(0);
    for (const span of [...db, ...cache, featureStore, spans.find((s) => s.name === 'recommendation.request')]) {
      expect(span.attributes['experiment.rec_algorithm'], span.name).toBe(assigned.baggage['experiment.rec_algorithm']);
      expect(span.attributes['experiment.ranking_boost'], span.name).toBe(assigned.baggage['experiment.ranking_boost']);
    }
    const request = spans.find((s) => s.name === 'recommendation.request');
    expect(request.attributes['recommendation.algorithm']).toBe(variant);
    if (variant !== 'control') expect(db.some((s) => s.attributes['db.collection.name'] === 'neighbours')).toBe(true);
    // The histories' items are never recommended back.
    const features = await getJson(`${server.featureStoreUrl()}/features/${userId}`, { authorization: `Bearer ${TEST_INTERNAL_TOKEN}` });
    askedDirectly[variant] = (askedDirectly[variant] ?? 0) + 1;
    const recommended = new Set(body.recommendations.map((r: any) => r.contentId));
    expect(features.history.filter((id: string) => recommended.has(id))).toEqual([]);
  });

  it('counts the feature store\'s server span as downstream work of each variant, and not the server\'s own request spans', async () => {
    const results = await getJson(`${server.url}/api/experiments/rec_algorithm_v3/results`, readAuth);
    for (const variant of results.variants.filter((v: any) => v.users > 0)) {
      expect(Object.keys(variant.downstream), variant.variant).toContain('feature_store.get_features');
      expect(Object.keys(variant.downstream), variant.variant).not.toContain('GET /api/recommendations');
    }
  });

  it('records feature-store latency by variant, in the latency buckets', async () => {
    await vi.waitFor(
      async () => {
        const { points } = await getJson(`${server.url}/api/metrics/feature_store.latency?limit=1000`, readAuth);
        const histograms = points.filter((p: any) => p.kind === 'histogram');
        // Every request here is another visitor's, so each asked the feature store once; the
        // feature store assigns the visitor of the path itself (it believes no caller's
        // baggage), so the test's own calls above, which carry none, count for their variant too.
        expect(byVariant(histograms, (p) => p.count)).toMatchObject(
          Object.fromEntries(Object.entries(served).map(([variant, counts]) => [variant, counts.requests + (askedDirectly[variant] ?? 0)])),
        );
        expect(Object.keys(served).sort()).toEqual([...VARIANTS].sort());
        for (const point of histograms) expect(point.explicitBounds).toEqual(LATENCY_BUCKETS_MS);
      },
      { timeout: 15_000, interval: 500 },
    );
  }, 20_000);

  it('records every served recommendation and request under its variant, latency in the latency buckets', async () => {
    await server.flush();
    const { points: impressions } = await getJson(`${server.url}/api/metrics/recommendation.impressions?limit=1000`, readAuth);
    const { points: latency } = await getJson(`${server.url}/api/metrics/recommendation.latency?limit=1000`, readAuth);
    const expected = (field: 'requests' | 'recommendations') => Object.fromEntries(Object.entries(served).map(([variant, counts]) => [variant, counts[field]]));
    expect(Object.keys(served).sort()).toEqual([...VARIANTS].sort());
    expect(byVariant(impressions, (p) => p.value)).toEqual(expected('recommendations'));
    expect(byVariant(latency, (p) => p.count)).toEqual(expected('requests'));
    for (const point of latency) {
      expect(point.kind).toBe('histogram');
      expect(point.unit).toBe('ms');
      expect(point.explicitBounds).toEqual(LATENCY_BUCKETS_MS);
    }
  });
});

/** Two requests as one visitor: what the second asked the feature store and the database for again. */
async function secondRequestReads(server: RunningServer, userId: string, traceByte: string): Promise<{ features: boolean; popularPool: boolean }> {
  const traceIds = [`${traceByte.repeat(15)}01`, `${traceByte.repeat(15)}02`];
  for (const traceId of traceIds) await getJson(`${server.url}/api/recommendations?userId=${userId}`, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
  const second = await storedTrace(server, traceIds[1]!);
  const features = second.some((s) => s.name === 'GET /features/:userId');
  expect(second.find((s) => s.name === 'cache.get features').attributes['cache.hit']).toBe(!features);
  return { features, popularPool: second.some((s) => s.attributes['db.query.summary'] === 'SELECT articles ORDER BY popularity DESC LIMIT ?') };
}

describe('how long features and content are reused', () => {
  it.each([
    ['reuses both by default', {}, { features: false, popularPool: false }],
    ['asks the feature store on every request with FEATURES_CACHE_TTL_MS=0', { FEATURES_CACHE_TTL_MS: '0' }, { features: true, popularPool: false }],
    ['reads the content database on every request with CONTENT_CACHE_TTL_MS=0', { CONTENT_CACHE_TTL_MS: '0' }, { features: false, popularPool: true }],
  ])('%s', async (_label, env, expected) => {
    const server = await startTestServer(env);
    try {
      expect(await secondRequestReads(server, 'u00042', 'c0')).toEqual(expected);
    } finally {
      await server.close();
    }
  });
});

describe('a feature store that is down or slow', () => {
  it.each([
    ['down', { FEATURE_STORE_URL: 'http://127.0.0.1:9' }, /unreachable/],
    ['slow', { FEATURE_STORE_DELAY_MS: '2000', FEATURE_STORE_TIMEOUT_MS: '100' }, /did not answer within 100 ms/],
  ])('still answers, degrades to control and records the error when it is %s', async (_label, env, message) => {
    const server = await startTestServer(env);
    try {
      const userId = (await usersByVariant(server)).hybrid![0]!;
      const traceId = 'fe'.repeat(16);
      const started = Date.now();
      const body = await getJson(`${server.url}/api/recommendations?userId=${userId}`, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
      expect(Date.now() - started).toBeLessThan(1500);
      expect(body.recommendations).toHaveLength(8);
      const spans = await storedTrace(server, traceId);
      const client = spans.find((s) => s.name === 'GET /features/:userId');
      expect(client.status.code).toBe(2);
      expect(client.status.message).toMatch(message);
      const request = spans.find((s) => s.name === 'recommendation.request');
      expect(request.attributes).toMatchObject({ 'recommendation.degraded': true, 'recommendation.algorithm': 'control', 'experiment.rec_algorithm': 'hybrid' });
      expect(request.status.code).toBe(0);
    } finally {
      await server.close();
    }
  });
});
