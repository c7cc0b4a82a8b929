/**
 * The server's own telemetry survives a crash (issue 16 §11): killed with SIGKILL while its
 * request spans wait for a store that cannot commit (another process holds the SQLite write
 * lock), the server stores them at its next start. Real processes, real SQLite. Needs `npm run build`.
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SERVER_ENTRY, startServerProcess, tempDir, TEST_READ_TOKEN } from './helpers.js';

const REQUESTS = 20;
/** No feature store process (it would outlive a SIGKILL): recommendations degrade to control at once. */
const JOURNAL_SERVER = { env: { READ_TOKEN: TEST_READ_TOKEN, FEATURE_STORE_URL: 'http://127.0.0.1:9' } };

describe("the server's own telemetry across a crash", () => {
  it('stores the request spans it had queued when it was killed, at its next start', async () => {
    expect(existsSync(SERVER_ENTRY), 'the server is not built; run `npm run build` first (npm test does)').toBe(true);
    const dataDir = tempDir('journal');
    const first = await startServerProcess(dataDir, JOURNAL_SERVER);
    // Another process holds the write lock: the server's commits wait, then fail and are retried.
    const holder = new Database(join(dataDir, 'telemetry.db'));
    holder.exec('BEGIN IMMEDIATE');
    const requestIds: string[] = [];
    for (let i = 0; i < REQUESTS; i += 1) {
      const res = await fetch(`${first.url}/api/recommendations?userId=journal-${i}&limit=3`);
      expect(res.status).toBe(200);
      requestIds.push(((await res.json()) as { requestId: string }).requestId);
    }
    // Exported by the span processor (every 200 ms) into the server's queue, which /healthz
    // counts: waited on until the count has held still for three export periods.
    let queued = 0;
    let since = performance.now();
    while (queued < REQUESTS || performance.now() - since < 600) {
      const health = (await (await fetch(`${first.url}/healthz`)).json()) as { ownTelemetry: { queued: number } };
      if (health.ownTelemetry.queued !== queued) since = performance.now();
      queued = health.ownTelemetry.queued;
    }
    const exited = once(first.child, 'exit');
    first.child.kill('SIGKILL');
    await exited;
    holder.exec('ROLLBACK');
    holder.close();

    const second = await startServerProcess(dataDir, JOURNAL_SERVER);
    try {
      const stored = async () => {
        const res = await fetch(`${second.url}/api/spans?name=recommendation.request&limit=1000`, { headers: { authorization: `Bearer ${TEST_READ_TOKEN}` } });
        const body = (await res.json()) as { spans: { attributes: Record<string, unknown> }[] };
        return new Set(body.spans.map((s) => s.attributes['recommendation.request_id']));
      };
      // The replay is committed shortly after the start; each look is one request to the server.
      let found = await stored();
      for (let look = 0; look < 200 && !requestIds.every((id) => found.has(id)); look += 1) {
        await fetch(`${second.url}/healthz`);
        found = await stored();
      }
      expect(requestIds.filter((id) => !found.has(id))).toEqual([]);
    } finally {
      const exitedAgain = once(second.child, 'exit');
      second.child.kill('SIGTERM');
      await exitedAgain;
    }
  }, 120_000);
});
