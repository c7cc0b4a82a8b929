import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TelemetryStore } from '../src/store/telemetry-store.js';
import { hexId, otlpSpan, otlpTraces, SERVER_ENTRY, startServerProcess, tempDir } from './helpers.js';

const SPANS_PER_REQUEST = 50;
const WRITERS = 8;

describe('durability', () => {
  it('loses nothing it acknowledged when killed with SIGKILL during ingest, and reopens cleanly', async () => {
    expect(existsSync(SERVER_ENTRY), 'the server is not built; run `npm run build` first (npm test does)').toBe(true);
    const dataDir = tempDir('kill');
    const { child, url } = await startServerProcess(dataDir);
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
