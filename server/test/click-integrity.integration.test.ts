/**
 * Issue 16's findings on click integrity, against a real server: a browser cannot make clicks
 * count for content its request did not serve, for times outside the click window, or by
 * posting a forged claim before the genuine click; holdout visitors' clicks are their own.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDemo as RunningServer } from '../src/demo/index.js';
import { hexId, readAuth, startTestServer, tempDir } from './helpers.js';

const KEY = 'experiment.rec_algorithm';
let server: RunningServer;
let spanCounter = 0x9000;

async function json(base: string, path: string): Promise<any> {
  return (await fetch(`${base}${path}`, { headers: readAuth })).json();
}

function clickSpan(attributes: Record<string, string>, atMs = Date.now()): Record<string, unknown> {
  spanCounter += 1;
  const nanos = (BigInt(Math.round(atMs)) * 1_000_000n).toString();
  return {
    traceId: hexId(spanCounter, 16),
    spanId: hexId(spanCounter, 8),
    name: 'recommendation.click',
    startTimeUnixNano: nanos,
    endTimeUnixNano: nanos,
    attributes: Object.entries(attributes).map(([key, value]) => ({ key, value: { stringValue: value } })),
  };
}

async function post(base: string, spans: unknown[]): Promise<void> {
  const response = await fetch(`${base}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] }),
  });
  expect(response.status).toBe(200);
}

function variantOf(results: any, variant: string): any {
  return results.variants.find((v: any) => v.variant === variant);
}

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server.close();
});

describe('click integrity', () => {
  it('counts no click on a content id the request did not serve (50 made-up ids on a one-item list)', async () => {
    const served = await json(server.url, '/api/recommendations?userId=integrity-fake&limit=1');
    const variant = served.baggage[KEY];
    await server.flush();
    const before = variantOf(await json(server.url, '/api/experiments/rec_algorithm_v3/results'), variant).clicks;
    const fakes = Array.from({ length: 50 }, (_, i) => clickSpan({ 'recommendation.request_id': served.requestId, 'content.id': `fake-${i}`, [KEY]: variant }));
    await post(server.url, fakes);
    const results = await json(server.url, '/api/experiments/rec_algorithm_v3/results');
    expect(variantOf(results, variant).clicks).toBe(before);
    expect(results.invalidClicks).toBeGreaterThanOrEqual(50);
    await post(server.url, [clickSpan({ 'recommendation.request_id': served.requestId, 'content.id': served.recommendations[0].contentId, [KEY]: variant })]);
    expect(variantOf(await json(server.url, '/api/experiments/rec_algorithm_v3/results'), variant).clicks).toBe(before + 1);
  });

  it('counts no click dated before its request (at 1970, an hour before) and one after it', async () => {
    const served = await json(server.url, '/api/recommendations?userId=integrity-time&limit=3');
    const variant = served.baggage[KEY];
    await server.flush();
    const before = variantOf(await json(server.url, '/api/experiments/rec_algorithm_v3/results'), variant).clicks;
    const [first, second, third] = served.recommendations.map((r: any) => r.contentId);
    await post(server.url, [
      clickSpan({ 'recommendation.request_id': served.requestId, 'content.id': first, [KEY]: variant }, 1),
      clickSpan({ 'recommendation.request_id': served.requestId, 'content.id': second, [KEY]: variant }, Date.now() - 3_600_000),
    ]);
    expect(variantOf(await json(server.url, '/api/experiments/rec_algorithm_v3/results'), variant).clicks).toBe(before);
    await post(server.url, [clickSpan({ 'recommendation.request_id': served.requestId, 'content.id': third, [KEY]: variant })]);
    expect(variantOf(await json(server.url, '/api/experiments/rec_algorithm_v3/results'), variant).clicks).toBe(before + 1);
  });

  it('still counts the genuine click after a forged claim for the same request and content arrived first', async () => {
    const served: { requestId: string; variant: string; contentId: string }[] = [];
    for (let i = 0; i < 12; i += 1) {
      const body = await json(server.url, `/api/recommendations?userId=integrity-forged-${i}&limit=2`);
      served.push({ requestId: body.requestId, variant: body.baggage[KEY], contentId: body.recommendations[0].contentId });
    }
    await server.flush();
    const before = await json(server.url, '/api/experiments/rec_algorithm_v3/results');
    const forged = served.map((s) => clickSpan({ 'recommendation.request_id': s.requestId, 'content.id': s.contentId, [KEY]: s.variant === 'hybrid' ? 'control' : 'hybrid' }));
    await post(server.url, forged);
    await post(server.url, served.map((s) => clickSpan({ 'recommendation.request_id': s.requestId, 'content.id': s.contentId, [KEY]: s.variant })));
    const after = await json(server.url, '/api/experiments/rec_algorithm_v3/results');
    for (const variant of ['control', 'collaborative', 'hybrid']) {
      const genuine = served.filter((s) => s.variant === variant).length;
      expect(variantOf(after, variant).clicks - variantOf(before, variant).clicks, variant).toBe(genuine);
    }
    expect(after.rejectedClicks.variantMismatch - before.rejectedClicks.variantMismatch).toBe(served.length);
  });
});

describe('holdout visitors', () => {
  let holdoutServer: RunningServer;

  beforeAll(async () => {
    const file = JSON.parse(readFileSync(join(import.meta.dirname, '../../config/experiments.json'), 'utf8'));
    file.holdout = { key: 'integrity', share: 0.5 };
    const path = join(tempDir('holdout'), 'experiments.json');
    writeFileSync(path, JSON.stringify(file));
    holdoutServer = await startTestServer({ EXPERIMENTS_FILE: path });
  });

  afterAll(async () => {
    await holdoutServer.close();
  });

  it('counts their genuine clicks for the holdout population, not as clicks naming no served request', async () => {
    const served: { requestId: string; contentId: string; heldOut: boolean }[] = [];
    for (let i = 0; i < 40; i += 1) {
      const body = await json(holdoutServer.url, `/api/recommendations?userId=holdout-${i}&limit=2`);
      served.push({ requestId: body.requestId, contentId: body.recommendations[0].contentId, heldOut: body.baggage[KEY] === undefined });
    }
    const heldOut = served.filter((s) => s.heldOut).length;
    expect(heldOut).toBeGreaterThan(5);
    await holdoutServer.flush();
    await post(holdoutServer.url, served.map((s) => clickSpan({ 'recommendation.request_id': s.requestId, 'content.id': s.contentId })));
    const results = await json(holdoutServer.url, '/api/experiments/rec_algorithm_v3/results');
    expect(results.rejectedClicks.unknownRequest).toBe(0);
    expect(results.populations.holdout).toMatchObject({ users: heldOut, requests: heldOut, clicks: heldOut });
    expect(results.variants.reduce((a: number, v: any) => a + v.clicks, 0)).toBe(served.length - heldOut);
  });
});

describe('forced (QA) visitors', () => {
  let forcedServer: RunningServer;

  beforeAll(async () => {
    forcedServer = await startTestServer();
  });

  afterAll(async () => {
    await forcedServer.close();
  });

  it('stay out of every figure: users, SRM, guardrails and the downstream spans of their variant', async () => {
    // qa-hybrid is forced to hybrid by the experiments file's allow-list (feature_flag.result.reason targeting_match).
    for (let i = 0; i < 5; i += 1) {
      const body = await json(forcedServer.url, '/api/recommendations?userId=qa-hybrid&limit=3');
      expect(body.baggage[KEY]).toBe('hybrid');
    }
    await forcedServer.flush();
    const results = await json(forcedServer.url, '/api/experiments/rec_algorithm_v3/results');
    const hybrid = variantOf(results, 'hybrid');
    expect(hybrid.users).toBe(0);
    expect(hybrid.requests).toBe(0);
    expect(results.srm.users.hybrid).toBe(0);
    expect(hybrid.downstream).toEqual({});
    expect(hybrid.cacheHitRate).toBeNull();
    expect(results.populations.forced).toMatchObject({ users: 1, requests: 5 });
  });
});
