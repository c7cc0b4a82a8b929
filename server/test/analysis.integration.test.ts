import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDemo as RunningServer } from '../src/demo/index.js';
import { hexId, readAuth, startTestServer } from './helpers.js';

let server: RunningServer;

beforeAll(async () => {
  server = await startTestServer({ METRIC_INTERVAL_MS: '200' });
});

afterAll(async () => {
  await server.close();
});

async function json(path: string): Promise<any> {
  return (await fetch(`${server.url}${path}`, { headers: readAuth })).json();
}

function click(n: number, attributes: Record<string, string | number>) {
  const now = (BigInt(Date.now()) * 1_000_000n).toString();
  return {
    traceId: hexId(0x7000 + n, 16),
    spanId: hexId(0x7000 + n, 8),
    name: 'recommendation.click',
    startTimeUnixNano: now,
    endTimeUnixNano: now,
    attributes: Object.entries(attributes).map(([key, value]) =>
      typeof value === 'number' ? { key, value: { intValue: String(value) } } : { key, value: { stringValue: value } },
    ),
  };
}

async function postClicks(spans: unknown[]): Promise<void> {
  const response = await fetch(`${server.url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] }),
  });
  expect(response.status).toBe(200);
}

describe('experiment results', () => {
  it('counts verified clicks once per request and content, for the served variant, and rejects the rest', async () => {
    const served: { userId: string; requestId: string; variant: string; contentId: string }[] = [];
    for (let i = 1; i <= 30; i += 1) {
      const userId = `analysis-${i}`;
      const body = await json(`/api/recommendations?userId=${userId}&limit=5`);
      served.push({ userId, requestId: body.requestId, variant: body.baggage['experiment.rec_algorithm'], contentId: body.recommendations[0].contentId });
    }
    await server.flush();
    const clicks: unknown[] = [];
    let n = 0;
    for (const request of served.slice(0, 10)) {
      const base = { 'recommendation.request_id': request.requestId, 'content.id': request.contentId, 'experiment.rec_algorithm': request.variant };
      clicks.push(click(n++, base), click(n++, base)); // a double click counts once
    }
    const spoofed = served[10]!;
    const other = ['control', 'collaborative', 'hybrid'].find((v) => v !== spoofed.variant)!;
    clicks.push(click(n++, { 'recommendation.request_id': spoofed.requestId, 'content.id': spoofed.contentId, 'experiment.rec_algorithm': other }));
    clicks.push(click(n++, { 'recommendation.request_id': 'never-served', 'content.id': 'a00001', 'experiment.rec_algorithm': 'hybrid' }));
    await postClicks(clicks);

    const results = await json('/api/experiments/rec_algorithm_v3/results');
    expect(results).toMatchObject({ experiment: 'rec_algorithm_v3', baggageKey: 'experiment.rec_algorithm', control: 'control', status: 'running' });
    const expectedClicks: Record<string, number> = { control: 0, collaborative: 0, hybrid: 0 };
    const expectedUsers: Record<string, number> = { control: 0, collaborative: 0, hybrid: 0 };
    for (const request of served) expectedUsers[request.variant]! += 1;
    for (const request of served.slice(0, 10)) expectedClicks[request.variant]! += 1;
    for (const variant of results.variants) {
      expect(variant.users, variant.variant).toBe(expectedUsers[variant.variant]);
      expect(variant.impressions, variant.variant).toBe(expectedUsers[variant.variant]! * 5);
      expect(variant.clicks, variant.variant).toBe(expectedClicks[variant.variant]);
      if (variant.impressions > 0) expect(variant.ctr).toBeCloseTo(variant.clicks / variant.impressions, 12);
    }
    expect(results.rejectedClicks).toEqual({ unknownRequest: 1, variantMismatch: 1, unknownRequestByClaimedVariant: { hybrid: 1 } });
    expect(results.srm.users).toEqual(expectedUsers);
    expect(results.variants.find((v: any) => v.variant === spoofed.variant).rejectedClicks).toBeGreaterThanOrEqual(1);
    const control = results.variants.find((v: any) => v.variant === 'control');
    expect(control.vsControl).toBeNull();
    expect(results.variants.find((v: any) => v.variant === 'hybrid').vsControl).toHaveProperty('pValueHolm');
    // Delivery: a request with any browser telemetry (the 11 clicked ones) counts as reported.
    const reported = results.variants.reduce((sum: number, v: any) => sum + v.delivery.reported, 0);
    expect(reported).toBe(11);
    expect(control.latencyMs.p50).toBeGreaterThan(0);
    expect(Object.keys(results.variants.find((v: any) => v.users > 0).downstream).length).toBeGreaterThan(0);
  });

  it('filters by window and cohort, and answers bad parameters with 400', async () => {
    const future = await json(`/api/experiments/rec_algorithm_v3/results?from=${new Date(Date.now() + 3_600_000).toISOString()}`);
    expect(future.variants.every((v: any) => v.users === 0)).toBe(true);
    const anonymous = await json('/api/experiments/rec_algorithm_v3/results?cohort=anonymous');
    expect(anonymous.variants.every((v: any) => v.users === 0)).toBe(true);
    const registered = await json('/api/experiments/rec_algorithm_v3/results?cohort=registered');
    expect(registered.variants.reduce((s: number, v: any) => s + v.users, 0)).toBeGreaterThanOrEqual(30);
    for (const [query, message] of [
      ['from=yesterday', /from is invalid/],
      ['from=2026-11-02&to=2026-11-01', /to is invalid/],
      ['cohort=%3Cimg%3E', /cohort is invalid/],
    ] as const) {
      const response = await fetch(`${server.url}/api/experiments/rec_algorithm_v3/results?${query}`, { headers: readAuth });
      expect(response.status).toBe(400);
      expect((await response.json()).error).toMatch(message);
    }
    expect((await fetch(`${server.url}/api/experiments/nope/results`, { headers: readAuth })).status).toBe(404);
  });

  it('answers an unknown cohort with 400 naming it and the known cohorts', async () => {
    const response = await fetch(`${server.url}/api/experiments/rec_algorithm_v3/results?cohort=martians`, { headers: readAuth });
    expect(response.status).toBe(400);
    expect((await response.json()).error).toBe('cohort is invalid, expected registered or anonymous (actual: martians)');
  });

  it('cross-checks with the stored metrics (impressions counter by variant)', async () => {
    // flush() exports the meter's points now (forceFlush) and waits for their commit: no need to wait for its interval.
    await server.flush();
    const results = await json('/api/experiments/rec_algorithm_v3/results');
    const total = results.variants.reduce((s: number, v: any) => s + v.metrics.impressions, 0);
    const served = results.variants.reduce((s: number, v: any) => s + v.impressions, 0);
    expect(total).toBe(served);
  });

  it('counts a browser\'s click-through points but never its impressions or latency, which are the server\'s own', async () => {
    const before = await json('/api/experiments/rec_algorithm_v3/results');
    const hybridBefore = before.variants.find((v: any) => v.variant === 'hybrid');
    const now = BigInt(Date.now()) * 1_000_000n;
    const point = (extra: Record<string, unknown>) => ({
      attributes: [{ key: 'experiment.rec_algorithm', value: { stringValue: 'hybrid' } }],
      startTimeUnixNano: String(now - 1_000_000_000n),
      timeUnixNano: String(now),
      ...extra,
    });
    const sum = (name: string, temporality: number, value: number) => ({
      name,
      unit: '1',
      // The cumulative stream started earlier: a point of the same stream, start and time is one point.
      sum: { aggregationTemporality: temporality, isMonotonic: true, dataPoints: [point({ asInt: String(value), ...(temporality === 2 ? { startTimeUnixNano: String(now - 60_000_000_000n) } : {}) })] },
    });
    const response = await fetch(`${server.url}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        resourceMetrics: [
          {
            resource: { attributes: [{ key: 'service.name', value: { stringValue: 'content-site' } }] },
            scopeMetrics: [
              {
                scope: { name: 'forged' },
                metrics: [
                  sum('recommendation.impressions', 1, 1000),
                  sum('recommendation.impressions', 2, 5000),
                  { name: 'recommendation.latency', unit: 'ms', histogram: { aggregationTemporality: 1, dataPoints: [point({ count: '4', sum: 40_000, bucketCounts: ['0', '4'], explicitBounds: [1] })] } },
                  sum('recommendation.click_through', 1, 3),
                ],
              },
            ],
          },
        ],
      }),
    });
    expect(response.status).toBe(200);
    await server.flush();
    const after = await json('/api/experiments/rec_algorithm_v3/results');
    const hybridAfter = after.variants.find((v: any) => v.variant === 'hybrid');
    expect(hybridAfter.metrics.impressions).toBe(hybridBefore.metrics.impressions);
    expect(hybridAfter.metrics.clickThrough).toBe(hybridBefore.metrics.clickThrough + 3);
    expect(hybridAfter.latencyDistribution).toEqual(hybridBefore.latencyDistribution);
    // Stored all the same, for inspection, as client-reported.
    const stored = await json('/api/metrics/recommendation.impressions?limit=1000');
    expect(stored.points.filter((p: any) => !p.trusted).map((p: any) => p.value).sort()).toEqual([1000, 5000]);
  });

  it('reads the cache hit rate per user from the request spans (hits over lookups), as a guardrail against control', async () => {
    await server.flush();
    const results = await json('/api/experiments/rec_algorithm_v3/results');
    for (const variant of results.variants.filter((v: any) => v.variant !== 'control' && v.users > 0)) {
      const cache = variant.guardrails.cacheHitRate;
      expect(cache, variant.variant).not.toBeNull();
      expect(cache.treatment).toBeGreaterThanOrEqual(0);
      expect(cache.treatment).toBeLessThanOrEqual(1);
      expect(cache.diff).toBeCloseTo(cache.treatment - cache.control, 12);
    }
  });
});
