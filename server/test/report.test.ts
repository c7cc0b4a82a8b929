import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDemo as RunningServer } from '../src/demo/index.js';
import { startTestServer } from './helpers.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../dist/server/src/cli/report.js');

let server: RunningServer & { dataDir: string };

beforeAll(async () => {
  server = await startTestServer();
  await fetch(`${server.url}/api/recommendations?userId=report-1`);
  await server.flush();
});

afterAll(async () => {
  await server.close();
});

async function report(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, DATA_DIR: server.dataDir } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('npm run report', () => {
  it('prints the results of an experiment', async () => {
    const { code, stdout } = await report('--experiment', 'rec_algorithm_v3');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^rec_algorithm_v3 \(running\)/);
  });

  it('prints usage for --help', async () => {
    for (const flag of ['--help', '-h']) {
      const { code, stdout } = await report(flag);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^Usage: variant-lens report --experiment <key>/);
      expect(stdout).toContain('--cohort <name>');
    }
  });

  it('answers an unusable command line with one line and usage, exit code 2, no stack', async () => {
    for (const [args, message] of [
      [['--nope'], "report: Unknown option '--nope'"],
      [['--experiment'], "report: Option '--experiment <value>' argument missing"],
      [['rec_algorithm_v3'], "report: Unexpected argument 'rec_algorithm_v3'. This command does not take positional arguments"],
    ] as const) {
      const { code, stdout, stderr } = await report(...args);
      expect(code, args.join(' ')).toBe(2);
      expect(stdout).toBe('');
      expect(stderr.split('\n')[0]).toBe(message);
      expect(stderr).toContain('Usage: variant-lens report');
      expect(stderr).not.toMatch(/TypeError|ERR_PARSE_ARGS|^\s+at .*:\d+:\d+\)?$/m);
    }
  });

  it('names an experiment that does not exist and lists those that do', async () => {
    const { code, stderr } = await report('--experiment', 'nope');
    expect(code).toBe(1);
    expect(stderr.trim()).toBe('--experiment is invalid: experiment nope does not exist; the experiments are rec_algorithm_v3, ranking_boost_v2');
    expect((await report()).stderr.trim()).toBe('--experiment is required: one of rec_algorithm_v3, ranking_boost_v2');
  });

  it('refuses an unknown cohort with the API message', async () => {
    const { code, stderr } = await report('--experiment', 'rec_algorithm_v3', '--cohort', 'martians');
    expect(code).toBe(1);
    expect(stderr.trim()).toBe('cohort is invalid, expected registered or anonymous (actual: martians)');
  });
});
