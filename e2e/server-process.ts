/**
 * A variant-lens server of a test's own, in its own process with a fresh data folder, run
 * exactly as `npm run serve` runs it: for tests whose results must not mix with the
 * telemetry other tests leave in the shared servers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The repository root: the server resolves `config/` and `dist/` from its working directory. */
export const ROOT = join(import.meta.dirname, '..');
const ENTRY = join(ROOT, 'dist/server/src/index.js');
/** The first start generates the content database (a few seconds; more on a busy machine). */
const START_TIMEOUT_MS = 60_000;
/** SIGTERM flushes telemetry and closes the databases; past this the process is killed. */
const STOP_TIMEOUT_MS = 15_000;

/** A running server process. */
export interface ServerProcess {
  /** `http://localhost:<port>`. */
  readonly url: string;
  readonly dataDir: string;
  /** SIGTERM (SIGKILL if it hangs), then removes the data folder. */
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts `node dist/server/src/index.js` on a free port (`PORT=0`, feature store too) with a
 * fresh `DATA_DIR`; `env` adds to or overrides that. Resolves once `/healthz` answers 200.
 */
export async function startServerProcess(env: Record<string, string> = {}): Promise<ServerProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'variant-lens-e2e-own-'));
  const child = spawn(process.execPath, [ENTRY], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', FEATURE_STORE_PORT: '0', DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = async () => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited(child);
    clearTimeout(timer);
    rmSync(dataDir, { recursive: true, force: true });
  };
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
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
