/**
 * Issue 16, finding 11: the server's own request spans were dropped when commits stalled or
 * failed (the in-process exporter never retried). Another connection holds the SQLite write
 * lock past the store's busy timeout, so the server's commits fail while it serves; once the
 * lock is released, every served request must be stored, and nothing reported lost.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
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

interface Health {
  status: string;
  reason?: string;
  ownTelemetry?: { queued: number; dropped: number; failedCommits: number };
}

async function health(): Promise<{ code: number; body: Health }> {
  const response = await fetch(`${server.url}/healthz`);
  return { code: response.status, body: (await response.json()) as Health };
}

async function serve(users: readonly string[]): Promise<void> {
  const responses = await Promise.all(users.map((user) => fetch(`${server.url}/api/recommendations?userId=${user}&limit=3`)));
  for (const response of responses) expect(response.status).toBe(200);
}

const storedRequests = (db: Database.Database) => db.prepare("SELECT count(*) FROM spans WHERE name = 'recommendation.request' AND trusted = 1").pluck().get() as number;

describe("the server's own telemetry while the store cannot commit", () => {
  it('is kept and retried until the store commits again: every served request is stored', async () => {
    const db = new Database(join(server.dataDir, 'telemetry.db'));
    try {
      const before = storedRequests(db);
      // Another process holding the write lock, longer than the store's busy timeout.
      db.exec('BEGIN IMMEDIATE');
      await serve(Array.from({ length: 40 }, (_, i) => `stall-a-${i}`));
      // Wait until a commit of the server's own telemetry has failed (the store reports it).
      while ((await health()).code !== 503) await new Promise((r) => setTimeout(r, 20));
      await serve(Array.from({ length: 40 }, (_, i) => `stall-b-${i}`));
      db.exec('ROLLBACK');
      await server.flush();
      expect(storedRequests(db) - before).toBe(80);
      const { code, body } = await health();
      expect(code).toBe(200);
      expect(body.ownTelemetry).toMatchObject({ queued: 0, dropped: 0 });
      expect(body.ownTelemetry!.failedCommits).toBeGreaterThan(0);
    } finally {
      if (db.inTransaction) db.exec('ROLLBACK');
      db.close();
    }
  }, 60_000);
});
