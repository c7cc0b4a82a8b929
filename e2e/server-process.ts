/**
 * A variant-lens server in its own process with a fresh data folder, run exactly as `npm run
 * serve` runs it: for tests whose results must not mix with the telemetry other tests leave
 * in the shared servers, and for the benchmarks and the README screenshots.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

/** The nearest folder above `from` with a package.json: the same from `e2e/` and, compiled, from `dist/e2e/`. */
function projectRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** The repository root: the server resolves `config/` and `dist/` from its working directory. */
export const ROOT = projectRoot(import.meta.dirname);
const ENTRY = join(ROOT, 'dist/server/src/index.js');
const SIMULATE = join(ROOT, 'dist/server/src/cli/simulate.js');
/** The first start generates the content database (a few seconds; more on a busy machine). */
const START_TIMEOUT_MS = 60_000;
/** SIGTERM flushes telemetry and closes the databases; past this the process is killed. */
const STOP_TIMEOUT_MS = 15_000;

/** The read token (`READ_TOKEN`) of every server the suite starts: the read side's key. */
export const E2E_READ_TOKEN = 'e2e-read-token-0123456789abcdef';

/** A running server process. */
export interface ServerProcess {
  /** `http://localhost:<port>`. */
  readonly url: string;
  readonly dataDir: string;
  /** SIGTERM (SIGKILL if it hangs), then removes the data folder unless asked to keep it. */
  stop(): Promise<void>;
}

/** How the process is run, beyond its environment. */
export interface ServerProcessOptions {
  /** Node options before the entry point (e.g. `--cpu-prof`). */
  readonly nodeArgs?: readonly string[];
  /** Leave the data folder after `stop`, to read the store afterwards. */
  readonly keepDataDir?: boolean;
  /** Copy the server's stderr to this process's as it comes (it is kept for errors either way). */
  readonly echoStderr?: boolean;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts `node dist/server/src/index.js` on a free port (`PORT=0`, feature store too) with a
 * fresh `DATA_DIR`; `env` adds to or overrides that. Resolves once `/healthz` answers 200.
 */
export async function startServerProcess(env: Record<string, string> = {}, options: ServerProcessOptions = {}): Promise<ServerProcess> {
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'variant-lens-own-'));
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ENTRY], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', FEATURE_STORE_PORT: '0', DATA_DIR: dataDir, READ_TOKEN: E2E_READ_TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = async () => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited(child);
    clearTimeout(timer);
    if (options.keepDataDir !== true) rmSync(dataDir, { recursive: true, force: true });
  };
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    if (options.echoStderr === true) process.stderr.write(chunk);
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not start within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
      child.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        // index.ts prints this line once the server is ready.
        const match = /variant-lens is serving on (http:\/\/localhost:\d+)/.exec(output);
        if (match !== null) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the server exited with ${code} before it was ready:\n${output}`));
      });
    });
    const health = await fetch(`${url}/healthz`);
    if (health.status !== 200) throw new Error(`${url}/healthz answered ${health.status}`);
    return { url, dataDir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Runs `npm run simulate` against `url` with `args` and resolves with what it printed on stdout. */
export async function runSimulator(url: string, args: readonly string[]): Promise<string> {
  // The simulator checks planted effects against the experiments, which the read side answers.
  const { stdout } = await promisify(execFile)(process.execPath, [SIMULATE, '--url', url, ...args], { cwd: ROOT, env: { ...process.env, READ_TOKEN: E2E_READ_TOKEN } });
  return stdout;
}
