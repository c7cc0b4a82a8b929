/**
 * Parity: the same simulated experiment read by the SQLite analysis and by the ClickHouse one
 * gives the same results. One server runs with `CLICKHOUSE_URL=chdb:…`, so every batch it
 * accepts is stored in its SQLite file and written to the exporter's tables from the same
 * decoded items; the results API reads ClickHouse, and a SQLite source reads the file beside it.
 * Same telemetry, so even the request latencies are the same numbers.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SqliteAnalysisSource } from '../src/analysis/sqlite-analysis-source.js';
import { readExperimentsFile } from '../src/config.js';
import type { ExperimentResults } from '../src/core/experiment-analysis.js';
import { AnalysisService } from '../src/services/analysis-service.js';
import { hexId, otlpSpan, otlpTraces, readAuth, startTestServer, TEST_READ_TOKEN, tempDir } from './helpers.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../dist/server/src/cli/simulate.js');
const RELATIVE_TOLERANCE = 1e-9;
const json = { 'content-type': 'application/json' };

let server: Awaited<ReturnType<typeof startTestServer>>;
let sqlite: AnalysisService;

/** Every number equal (integers exactly, others within 1e-9 relative), everything else identical. */
function expectSame(actual: unknown, expected: unknown, path = 'results'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    if (Number.isInteger(expected) && Number.isInteger(actual)) expect(actual, path).toBe(expected);
    else expect(Math.abs(actual - expected), path).toBeLessThanOrEqual(RELATIVE_TOLERANCE * Math.max(Math.abs(expected), Math.abs(actual)));
    return;
  }
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual), path).toBe(true);
    expect((actual as unknown[]).length, `${path}.length`).toBe(expected.length);
    expected.forEach((item, i) => expectSame((actual as unknown[])[i], item, `${path}[${i}]`));
    return;
  }
  if (expected !== null && typeof expected === 'object') {
    expect(actual !== null && typeof actual === 'object', path).toBe(true);
    expect(Object.keys(actual as object).sort(), `${path} keys`).toEqual(Object.keys(expected).sort());
    for (const [key, value] of Object.entries(expected)) expectSame((actual as Record<string, unknown>)[key], value, `${path}.${key}`);
    return;
  }
  expect(actual, path).toEqual(expected);
}

async function recommend(userId: string, query = ''): Promise<{ requestId: string; experiments: Record<string, string>; recommendations: { contentId: string; position: number }[] }> {
  const response = await fetch(`${server.url}/api/recommendations?userId=${userId}&limit=8${query}`);
  expect(response.status).toBe(200);
  return (await response.json()) as never;
}

async function postClicks(spans: Record<string, unknown>[]): Promise<void> {
  const response = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: json, body: JSON.stringify(otlpTraces(spans, 'simulated-browser')) });
  expect(response.status).toBe(200);
}

function click(n: number, requestId: string, contentId: string, claims: Record<string, string>): Record<string, unknown> {
  const now = BigInt(Date.now()) * 1_000_000n;
  return { ...otlpSpan(hexId(n, 16), hexId(n, 8), { ...claims, 'content.id': contentId, 'recommendation.request_id': requestId, 'recommendation.position': 1 }), startTimeUnixNano: now.toString(), endTimeUnixNano: now.toString() };
}

beforeAll(async () => {
  server = await startTestServer({ CLICKHOUSE_URL: `chdb:${tempDir('parity-chdb')}`, ANALYSIS_BACKEND: 'clickhouse', CONTENT_CACHE_TTL_MS: '0' });
  const experiments = readExperimentsFile(join(import.meta.dirname, '../../config/experiments.json'));
  sqlite = new AnalysisService(new SqliteAnalysisSource(join(server.dataDir, 'telemetry.db')), experiments.experiments);

  // The simulated experiment: a planted effect on hybrid; its clicks are posted right after each
  // list, usually before the server's request span is stored (early events).
  await run(process.execPath, [CLI, '--url', server.url, '--users', '60', '--days', '3', '--seed', '11', '--effect', 'hybrid=+40%'], { env: { ...process.env, READ_TOKEN: TEST_READ_TOKEN } });

  // A forced (QA) visitor, a duplicate click, a click claiming another variant, a click naming no request.
  const forced = await recommend('qa-hybrid');
  const served = await recommend('u00077');
  const variant = served.experiments.rec_algorithm_v3!;
  const other = variant === 'control' ? 'hybrid' : 'control';
  const [first, second, third] = served.recommendations;
  await postClicks([
    click(0xa1, served.requestId, first!.contentId, { 'experiment.rec_algorithm': variant }),
    click(0xa2, served.requestId, first!.contentId, { 'experiment.rec_algorithm': variant }),
    click(0xa3, served.requestId, second!.contentId, { 'experiment.rec_algorithm': other }),
    click(0xa4, 'f'.repeat(32), third!.contentId, { 'experiment.rec_algorithm': 'hybrid' }),
    click(0xa5, 'e'.repeat(32), third!.contentId, {}),
    click(0xa6, forced.requestId, forced.recommendations[0]!.contentId, { 'experiment.rec_algorithm': 'hybrid' }),
  ]);
  await server.flush();
}, 180_000);

afterAll(async () => {
  await sqlite?.close();
  await server?.close();
});

describe('ClickHouse (chdb) and SQLite give the same results', () => {
  it.each([
    ['rec_algorithm_v3', {}],
    ['ranking_boost_v2', {}],
    ['rec_algorithm_v3', { cohort: 'registered' }],
  ] as const)('%s %j: every count equal, every statistic within 1e-9 relative', async (key, request) => {
    const experiment = sqlite.experiment(key)!;
    const query = new URLSearchParams(request).toString();
    // The feature store's own spans reach the endpoint on its exporter's schedule, which
    // server.flush() does not cover: the two reads are compared once they have all arrived.
    await vi.waitFor(
      async () => {
        const expected = await sqlite.results(experiment, request);
        const response = await fetch(`${server.url}/api/experiments/${key}/results${query === '' ? '' : `?${query}`}`, { headers: readAuth });
        expect(response.status).toBe(200);
        const actual = (await response.json()) as ExperimentResults;
        // The comparison means something: there is traffic, clicks, a planted effect and rejections.
        const requests = expected.variants.reduce((s, v) => s + v.requests, 0);
        expect(requests).toBeGreaterThan(60);
        if (query === '') expect(expected.variants.reduce((s, v) => s + v.clicks, 0)).toBeGreaterThan(20);
        expectSame(actual, JSON.parse(JSON.stringify(expected)));
      },
      { timeout: 15_000, interval: 500 },
    );
  });

  it('counts the forged and duplicate clicks as the attribution rules say', async () => {
    const results = (await (await fetch(`${server.url}/api/experiments/rec_algorithm_v3/results`, { headers: readAuth })).json()) as ExperimentResults;
    expect(results.rejectedClicks.unknownRequest).toBe(2);
    expect(results.rejectedClicks.unknownRequestByClaimedVariant).toEqual({ hybrid: 1, unknown: 1 });
    expect(results.rejectedClicks.variantMismatch).toBeGreaterThanOrEqual(1);
    // The forced visitor is a population apart, with its click, on both backends.
    expect(results.populations.forced).toMatchObject({ users: 1, requests: 1, clicks: 1 });
  });

  it('a window in the past holds nothing on either backend', async () => {
    const experiment = sqlite.experiment('rec_algorithm_v3')!;
    const request = { from: '2020-01-01T00:00:00Z', to: '2020-01-02T00:00:00Z' };
    const expected = await sqlite.results(experiment, request);
    const actual = (await (await fetch(`${server.url}/api/experiments/rec_algorithm_v3/results?${new URLSearchParams(request).toString()}`, { headers: readAuth })).json()) as ExperimentResults;
    expect(expected.variants.every((v) => v.requests === 0)).toBe(true);
    expectSame(actual, JSON.parse(JSON.stringify(expected)));
  });
});
