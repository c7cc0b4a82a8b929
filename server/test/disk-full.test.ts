/**
 * Issue 16, finding 10: after a full disk the WAL checkpoint thread died for good (the WAL
 * grew without bound once space was back) while `/healthz` answered 200. A real server
 * process whose files may not grow beyond a limit (RLIMIT_FSIZE: writes fail with EFBIG, as
 * on a full disk), raised again from outside once the store has failed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hexId, otlpSpan, otlpTraces, SERVER_ENTRY, startServerProcess, tempDir } from './helpers.js';

/** Largest file the server may write while the "disk" is full: room for the content store and some telemetry. */
const FILE_LIMIT_BYTES = 24 * 1024 * 1024;
const SPANS_PER_BATCH = 200;
/** Batches posted once space is back: about 160 MB of WAL if it never started over (0.4 MB a batch). */
const BATCHES_AFTER_RECOVERY = 400;
/** The WAL starts over past 64 MiB (checked every 200 ms; a sequential client adds little meanwhile). */
const WAL_BOUND_BYTES = 100 * 1024 * 1024;

let next = 1;
/** A batch of spans with a kilobyte of attributes each: about 250 KB of JSON. */
function batch(): string {
  const spans = Array.from({ length: SPANS_PER_BATCH }, () => {
    const n = next++;
    return otlpSpan(hexId(n, 16), hexId(n, 8), { 'experiment.rec_algorithm': 'hybrid', padding: `${n}`.padEnd(1000, 'p') });
  });
  return JSON.stringify(otlpTraces(spans));
}

async function post(url: string, body: string): Promise<number> {
  return (await fetch(`${url}/v1/traces`, { method: 'POST', body, headers: { 'content-type': 'application/json' } })).status;
}

const walBytes = (dataDir: string) => (existsSync(join(dataDir, 'telemetry.db-wal')) ? statSync(join(dataDir, 'telemetry.db-wal')).size : 0);

describe('a full disk', () => {
  it('makes /healthz say the store cannot be written, and once space is back the WAL is checkpointed again', async () => {
    expect(existsSync(SERVER_ENTRY), 'the server is not built; run `npm run build` first (npm test does)').toBe(true);
    const dataDir = tempDir('disk-full');
    const { child, url } = await startServerProcess(dataDir, { wrapper: ['prlimit', `--fsize=${FILE_LIMIT_BYTES}:unlimited`] });
    try {
      // Fill the "disk": post until a commit fails.
      let status = 200;
      for (let i = 0; i < 400 && status === 200; i += 1) status = await post(url, batch());
      expect(status).toBe(503);
      const sick = await fetch(`${url}/healthz`);
      expect(sick.status).toBe(503);
      expect(((await sick.json()) as { reason: string }).reason).toMatch(/telemetry store cannot be written/);

      // Space is back.
      execFileSync('prlimit', ['--pid', String(child.pid), '--fsize=unlimited']);
      // The exporter retries a 503: a batch is stored once space is back.
      const accepted = async () => {
        for (;;) {
          const body = batch();
          for (let attempt = 0; attempt < 50; attempt += 1) if ((await post(url, body)) === 200) return;
          throw new Error('the store never recovered');
        }
      };
      await accepted();
      const walBefore = walBytes(dataDir);
      // Several times what the WAL may hold before it starts over (64 MiB): with checkpoints
      // running, the WAL is reused from its start instead of growing by all of it.
      for (let i = 0; i < BATCHES_AFTER_RECOVERY; i += 1) await accepted();
      const walAfter = walBytes(dataDir);
      console.log(
        `WAL ${(walBefore / 1e6).toFixed(1)} MB after recovery, ${(walAfter / 1e6).toFixed(1)} MB after ${BATCHES_AFTER_RECOVERY} more batches (~${((BATCHES_AFTER_RECOVERY * SPANS_PER_BATCH * 1100) / 1e6).toFixed(0)} MB of spans)`,
      );
      expect(walAfter).toBeLessThan(WAL_BOUND_BYTES);
      const healthy = await fetch(`${url}/healthz`);
      expect(healthy.status).toBe(200);
    } finally {
      child.kill('SIGKILL');
    }
  }, 180_000);
});
