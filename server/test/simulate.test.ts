import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDemo as RunningServer } from '../src/demo/index.js';
import { readAuth, startTestServer, TEST_READ_TOKEN } from './helpers.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../dist/server/src/cli/simulate.js');

let server: RunningServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server.close();
});

async function simulate(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [CLI, '--url', server.url, ...args], { env: { ...process.env, READ_TOKEN: TEST_READ_TOKEN } });
  return stdout;
}

describe('npm run simulate', () => {
  it('drives the server like browsers, deterministically for a seed, and its traffic shows in the results', async () => {
    const first = await simulate('--users', '60', '--days', '3', '--seed', '7', '--effect', 'hybrid=+50%');
    expect(first).toMatch(/Simulated 60 users over 3 days \(seed 7\)/);
    expect(first).toMatch(/planted effects: hybrid \+50\.0%/);
    expect(first).toMatch(/Results: http:\/\/localhost:\d+\/dashboard/);
    const requests = Number(/(\d+) recommendation requests/.exec(first)![1]);
    expect(requests).toBeGreaterThanOrEqual(60);
    const again = await simulate('--users', '60', '--days', '3', '--seed', '7', '--effect', 'hybrid=+50%');
    expect(Number(/(\d+) recommendation requests/.exec(again)![1])).toBe(requests);
    await server.flush();
    const results = (await (await fetch(`${server.url}/api/experiments/rec_algorithm_v3/results`, { headers: readAuth })).json()) as { variants: { users: number; requests: number; clicks: number; delivery: { share: number | null } }[] };
    expect(results.variants.reduce((s, v) => s + v.users, 0)).toBe(60);
    expect(results.variants.reduce((s, v) => s + v.requests, 0)).toBe(2 * requests);
    expect(results.variants.reduce((s, v) => s + v.clicks, 0)).toBeGreaterThan(0);
    for (const v of results.variants) if (v.requests > 0) expect(v.delivery.share).toBe(1);
  }, 60_000);

  it('refuses a malformed effect with a message naming it', async () => {
    await expect(simulate('--effect', 'hybrid=lots')).rejects.toMatchObject({ stderr: expect.stringMatching(/--effect is invalid, expected <variant>=<\+\/-N>%/) });
  });

  it('refuses an effect on a variant no running experiment has, before sending anything', async () => {
    const served = async () => {
      await server.flush();
      const results = (await (await fetch(`${server.url}/api/experiments/rec_algorithm_v3/results`, { headers: readAuth })).json()) as { variants: { requests: number }[] };
      return results.variants.reduce((s, v) => s + v.requests, 0);
    };
    const before = await served();
    await expect(simulate('--effect', 'hybird=+30%')).rejects.toMatchObject({
      stderr: expect.stringMatching(/--effect names hybird, which is no variant of a running experiment \(variants: control, collaborative, hybrid, .*recency_boost/),
    });
    expect(await served()).toBe(before);
  });
});

describe('npm run simulate command line', () => {
  it('prints usage for --help without needing a server', async () => {
    const { stdout } = await run(process.execPath, [CLI, '--help']);
    expect(stdout).toMatch(/^Usage: variant-lens simulate \[options\]/);
    expect(stdout).toContain('--effect <variant>=<+/-N>%');
  });

  it('answers an unknown option with one line and usage, exit code 2, no stack', async () => {
    const failure = await run(process.execPath, [CLI, '--userz', '5']).catch((error: unknown) => error as { code: number; stdout: string; stderr: string });
    expect(failure).toMatchObject({ code: 2, stdout: '' });
    const { stderr } = failure as { stderr: string };
    expect(stderr.split('\n')[0]).toBe("simulate: Unknown option '--userz'");
    expect(stderr).toContain('Usage: variant-lens simulate');
    expect(stderr).not.toMatch(/TypeError|ERR_PARSE_ARGS|^\s+at .*:\d+:\d+\)?$/m);
  });
});
