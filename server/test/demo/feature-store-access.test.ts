/**
 * Finding 6 of issue 16: the feature store listens on loopback only by default, answers only
 * the server holding the internal token, and puts on its spans only baggage values that are
 * variants of a running experiment. A real server starts the real feature store process.
 */
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadDemoConfig, type RunningDemo as RunningServer } from '../../src/demo/index.js';
import { hexId, readAuth, startTestServer, TEST_INTERNAL_TOKEN } from '../helpers.js';

let server: RunningServer;

beforeAll(async () => {
  server = await startTestServer({ METRIC_INTERVAL_MS: '1000' });
}, 60_000);

afterAll(async () => {
  await server?.close();
}, 60_000);

/** An address of this machine that is not loopback: what another machine on the network would call. */
function externalAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && !a.internal && a.family === 'IPv4')?.address;
}

const internal = { authorization: `Bearer ${TEST_INTERNAL_TOKEN}` };

describe('the feature store', () => {
  it('listens on loopback only by default', async () => {
    const url = new URL(server.featureStoreUrl());
    expect(url.hostname).toBe('127.0.0.1');
    const address = externalAddress();
    expect(address, 'this machine has no non-loopback IPv4 address to test from').toBeDefined();
    await expect(fetch(`http://${address}:${url.port}/healthz`)).rejects.toThrow();
    expect((await fetch(`${server.featureStoreUrl()}/healthz`)).status).toBe(200);
  });

  it('answers a visitor’s features only to a caller with the internal token (401 with {error} otherwise)', async () => {
    const anonymous = await fetch(`${server.featureStoreUrl()}/features/u00001`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: string }).error).toMatch(/Authorization is missing/);
    const wrong = await fetch(`${server.featureStoreUrl()}/features/u00001`, { headers: { authorization: 'Bearer guessed' } });
    expect(wrong.status).toBe(401);
    const allowed = await fetch(`${server.featureStoreUrl()}/features/u00001`, { headers: internal });
    expect(allowed.status).toBe(200);
    expect(((await allowed.json()) as { userId: string }).userId).toBe('u00001');
  });

  it('keeps on its spans only baggage values that are variants of a running experiment, even from the authenticated server', async () => {
    const forgedTrace = hexId(0xf0f0, 16);
    const genuineTrace = hexId(0xf1f1, 16);
    const call = (traceId: string, baggage: string) =>
      fetch(`${server.featureStoreUrl()}/features/u00002`, { headers: { ...internal, traceparent: `00-${traceId}-${hexId(1, 8)}-01`, baggage } });
    expect((await call(forgedTrace, 'experiment.rec_algorithm=evil,experiment.ranking_boost=x%3Cscript%3E,user.cohort=admin')).status).toBe(200);
    expect((await call(genuineTrace, 'experiment.rec_algorithm=hybrid,experiment.ranking_boost=recency_boost,user.cohort=registered')).status).toBe(200);
    const spanOf = async (traceId: string) => {
      const response = await fetch(`${server.url}/api/traces/${traceId}`, { headers: readAuth });
      if (response.status !== 200) return undefined;
      return ((await response.json()) as { spans: { name: string; attributes: Record<string, unknown>; trusted: boolean }[] }).spans.find((s) => s.name === 'feature_store.get_features');
    };
    const forged = await vi.waitFor(async () => (await spanOf(forgedTrace)) ?? Promise.reject(new Error('not stored yet')), { timeout: 30_000, interval: 250 });
    const genuine = await vi.waitFor(async () => (await spanOf(genuineTrace)) ?? Promise.reject(new Error('not stored yet')), { timeout: 30_000, interval: 250 });
    // The feature store assigns the visitor of its path itself (variant-lens/node's middleware):
    // whatever the caller's baggage says, forged or not, its spans carry the visitor's own variants.
    const assigned = ((await (await fetch(`${server.url}/api/assignments?userId=u00002`)).json()) as { baggage: Record<string, string> }).baggage;
    expect(forged.trusted).toBe(true);
    for (const span of [forged, genuine]) {
      expect(span.attributes['experiment.rec_algorithm']).toBe(assigned['experiment.rec_algorithm']);
      expect(span.attributes['experiment.ranking_boost']).toBe(assigned['experiment.ranking_boost']);
      expect(span.attributes['user.cohort']).toBe('registered');
    }
  }, 60_000);

  it('has a main server that listens where HOST says (documented default: every interface)', async () => {
    const local = await startTestServer({ HOST: '127.0.0.1', OTEL_SDK_DISABLED: 'true', FEATURE_STORE_URL: server.featureStoreUrl() });
    try {
      const port = new URL(local.url).port;
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      await expect(fetch(`http://${externalAddress()}:${port}/healthz`)).rejects.toThrow();
      expect((await fetch(`http://${externalAddress()}:${new URL(server.url).port}/healthz`)).status).toBe(200);
    } finally {
      await local.close();
    }
  });

  it('refuses a HOST or FEATURE_STORE_HOST that is not an address, naming it; the feature store defaults to loopback', () => {
    expect(() => loadDemoConfig({ HOST: 'http://0.0.0.0/' })).toThrow(/HOST is invalid, expected a host name or an IP address/);
    expect(() => loadDemoConfig({ FEATURE_STORE_HOST: 'a b' })).toThrow(/FEATURE_STORE_HOST is invalid/);
    expect(loadDemoConfig({})).toMatchObject({ host: undefined, featureStoreHost: '127.0.0.1' });
  });

  it('still serves the recommendations it exists for: the server sends the token', async () => {
    const response = await fetch(`${server.url}/api/recommendations?userId=u00003&limit=4`);
    const body = (await response.json()) as { recommendations: unknown[]; degraded?: unknown };
    expect(response.status).toBe(200);
    expect(body.recommendations).toHaveLength(4);
    const features = await fetch(`${server.featureStoreUrl()}/features/u00003`, { headers: internal });
    expect(features.status).toBe(200);
  });
});
