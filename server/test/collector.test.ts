/** `variant-lens collector`: the endpoint, store, analysis and dashboard for a team's own stack, without the demo. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { startServer, type RunningServer } from '../src/server.js';
import { hexId, otlpSpan, otlpTraces, readAuth, TEST_READ_TOKEN, tempDir } from './helpers.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../dist/server/src/cli/variant-lens.js');
const TOKEN = 'team-service-token-0123456789';
const EXPERIMENTS_FILE = join(import.meta.dirname, '../../config/experiments.json');

let server: RunningServer;

beforeAll(async () => {
  const config = loadConfig({ PORT: '0', DATA_DIR: tempDir('collector'), EXPERIMENTS_FILE, SERVICE_TOKENS: TOKEN, METRIC_INTERVAL_MS: '100000', READ_TOKEN: TEST_READ_TOKEN, RETENTION_MAX_AGE_HOURS: '0' }, { demo: false });
  server = await startServer(config);
});

afterAll(async () => {
  await server.close();
});

async function postSpan(n: number, authorization?: string): Promise<number> {
  const response = await fetch(`${server.url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
    body: JSON.stringify(otlpTraces([otlpSpan(hexId(n, 16), hexId(n, 8))], 'my-recs')),
  });
  return response.status;
}

describe('the collector alone', () => {
  it('serves the endpoint, the analysis and /healthz, and no demo', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/api/experiments`, { headers: readAuth })).status).toBe(200);
    expect((await fetch(`${server.url}/api/experiments/rec_algorithm_v3/results`, { headers: readAuth })).status).toBe(200);
    expect((await fetch(`${server.url}/api/recommendations?userId=alice`)).status).toBe(404);
    expect((await fetch(`${server.url}/api/content/a00001`)).status).toBe(404);
    const home = await fetch(`${server.url}/`, { redirect: 'manual' });
    expect(home.status).toBe(302);
    expect(home.headers.get('location')).toBe('/dashboard');
    expect('featureStoreUrl' in server).toBe(false);
  });

  it('trusts OTLP that presents a service token, and only that', async () => {
    expect(await postSpan(1, `Bearer ${TOKEN}`)).toBe(200);
    expect(await postSpan(2, 'Bearer not-the-token-000000000')).toBe(200);
    expect(await postSpan(3)).toBe(200);
    await server.ingestPool.drain();
    const trusted = async (n: number) => {
      const { spans } = (await (await fetch(`${server.url}/api/traces/${hexId(n, 16)}`, { headers: readAuth })).json()) as { spans: { trusted: boolean }[] };
      return spans[0]!.trusted;
    };
    expect([await trusted(1), await trusted(2), await trusted(3)]).toEqual([true, false, false]);
  });

  it('wants EXPERIMENTS_FILE, the team\'s own', () => {
    expect(() => loadConfig({}, { demo: false })).toThrow(ConfigError);
    expect(() => loadConfig({}, { demo: false })).toThrow(/EXPERIMENTS_FILE is required/);
  });
});

describe('npx variant-lens', () => {
  it.each([
    [[], /^Usage: variant-lens <command>/],
    [['--help'], /^Usage: variant-lens <command>/],
    [['collector', '--help'], /^Usage: variant-lens collector\n[\s\S]*SERVICE_TOKENS/],
    [['demo', '--help'], /^Usage: variant-lens demo\n/],
    [['report', '--help'], /^Usage: variant-lens report --experiment/],
    [['simulate', '--help'], /^Usage: variant-lens simulate/],
  ])('%j prints its usage', async (args, usage) => {
    const { stdout } = await run(process.execPath, [CLI, ...args]);
    expect(stdout).toMatch(usage);
  });

  it('answers an unknown command with exit code 2 and the usage', async () => {
    const failed = await run(process.execPath, [CLI, 'nonsense']).catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command nonsense') });
  });

  it('says what the collector needs instead of a stack', async () => {
    const failed = await run(process.execPath, [CLI, 'collector'], { env: { ...process.env, EXPERIMENTS_FILE: '' } }).catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 1, stderr: expect.stringMatching(/^Configuration: EXPERIMENTS_FILE is required/) });
  });
});
