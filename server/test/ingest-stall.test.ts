/**
 * Issue 16, finding 8: one small metrics post must not stall every other export. Measured
 * against a baseline on the same server, so a slow shared machine moves both alike.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDemo as RunningServer } from '../src/demo/index.js';
import { startTestServer } from './helpers.js';

let server: RunningServer & { dataDir: string };

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server.close();
});

/** `points` tiny points of one metric from one resource with `resourceAttributes` attributes of `valueLength` characters. */
function metricsBody(tag: string, resourceAttributes: number, valueLength: number, points: number): Buffer {
  const resource = Array.from({ length: resourceAttributes }, (_, i) => ({ key: `r${i}`, value: { stringValue: `${tag}${i}`.padEnd(valueLength, 'x') } }));
  const dataPoints = Array.from({ length: points }, (_, i) => ({ startTimeUnixNano: '1', timeUnixNano: String(BigInt(Date.now()) * 1_000_000n + BigInt(i)), asInt: '1' }));
  const body = { resourceMetrics: [{ resource: { attributes: resource }, scopeMetrics: [{ scope: { name: 's' }, metrics: [{ name: `m.${tag}`, sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints } }] }] }] };
  return gzipSync(JSON.stringify(body));
}

async function timed(body: Buffer): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const response = await fetch(`${server.url}/v1/metrics`, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } });
  await response.arrayBuffer();
  return { status: response.status, ms: performance.now() - started };
}

const EMPTY = gzipSync(JSON.stringify({ resourceMetrics: [] }));
const POINTS = 2_000;

describe('a metrics post with a large resource', () => {
  it('is answered, and lets a concurrent empty export through, about as fast as the same points from a small resource', async () => {
    // Baseline: the same number of points from a resource of one short attribute (best of three, warm).
    const baselines: number[] = [];
    for (let run = 0; run < 3; run += 1) baselines.push((await timed(metricsBody(`base${run}`, 1, 8, POINTS))).ms);
    const baseline = Math.min(...baselines);
    // The crafted post: 128 attributes of 4,096 characters (what the decode limits let through).
    const crafted = metricsBody('crafted', 128, 4096, POINTS);
    expect(crafted.length).toBeLessThan(64 * 1024);
    let answered = false;
    const craftedAnswer = timed(crafted).finally(() => (answered = true));
    // Empty exports one after another for as long as the crafted post is in flight: the slowest is the stall.
    const empties: { status: number; ms: number }[] = [];
    while (!answered) empties.push(await timed(EMPTY));
    const { status, ms } = await craftedAnswer;
    const empty = empties.reduce((a, b) => (b.ms > a.ms ? b : a));
    console.log(`points ${POINTS}: baseline ${baseline.toFixed(0)} ms, crafted ${ms.toFixed(0)} ms, slowest of ${empties.length} concurrent empty exports ${empty.ms.toFixed(0)} ms`);
    expect(status).toBe(200);
    expect(empties.every((e) => e.status === 200)).toBe(true);
    // The resource is 0.5 MB of JSON: decoding it is honest work, hashing it once per point is not.
    const bound = 5 * baseline + 250;
    expect(ms).toBeLessThan(bound);
    expect(empty.ms).toBeLessThan(bound);
    expect((await server.store.findMetricPoints('m.crafted', 1000)).length).toBe(1000);
  });
});
