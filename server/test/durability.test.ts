import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TelemetryStore } from '../src/store/telemetry-store.js';
import { hexId, otlpSpan, otlpTraces, tempDir } from './helpers.js';

const ENTRY = join(import.meta.dirname, '../../dist/server/src/index.js');
const SPANS_PER_REQUEST = 50;
const WRITERS = 8;

function startChild(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [ENTRY], {
    env: { ...process.env, PORT: '0', FEATURE_STORE_PORT: '0', DATA_DIR: dataDir, METRIC_INTERVAL_MS: '100000', RETENTION_MAX_AGE_HOURS: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /variant-lens is serving on (http:\/\/localhost:\d+)/.exec(output);
      if (match) resolve({ child, url: match[1]! });
    });
    child.once('exit', (code) => reject(new Error(`server exited early with ${code}: ${output}`)));
  });
}

describe('durability', () => {
  it('loses nothing it acknowledged when killed with SIGKILL during ingest, and reopens cleanly', async () => {
    expect(existsSync(ENTRY), 'the server is not built; run `npm run build` first (npm test does)').toBe(true);
    const dataDir = tempDir('kill');
    const { child, url } = await startChild(dataDir);
    const acknowledged: number[] = [];
    let next = 1;
    let killed = false;
    const writer = async () => {
      while (!killed) {
        const ids = Array.from({ length: SPANS_PER_REQUEST }, () => next++);
        const body = JSON.stringify(otlpTraces(ids.map((n) => otlpSpan(hexId(n, 16), hexId(n, 8), { 'experiment.rec_algorithm': 'hybrid' }))));
        try {
          const response = await fetch(`${url}/v1/traces`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
          if (response.status === 200) acknowledged.push(...ids);
        } catch {
          // The connection died with the server: this batch was never acknowledged.
        }
      }
    };
    const writers = Array.from({ length: WRITERS }, writer);
    // Kill once a good number of batches has been acknowledged, mid-stream.
    while (acknowledged.length < 20 * SPANS_PER_REQUEST) await new Promise((r) => setTimeout(r, 5));
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    killed = true;
    await Promise.all(writers);
    await exited;

    const store = new TelemetryStore({ path: join(dataDir, 'telemetry.db') });
    try {
      expect(store.integrityCheck()).toBe('ok');
      expect(store.spanCount()).toBeGreaterThanOrEqual(acknowledged.length);
      const missing = acknowledged.filter((n) => store.getTrace(hexId(n, 16)).length !== 1);
      expect(missing).toEqual([]);
    } finally {
      store.close();
    }
  }, 30_000);
});
