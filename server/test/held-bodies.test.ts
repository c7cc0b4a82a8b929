/**
 * Issue 16, finding 9: bodies held open cost memory the in-flight limit did not count (600
 * connections each sending a 4.8 KB gzip body of 4.9 MB inflated and withholding its last 16
 * bytes took the server from 226 MB to 3.1 GB, for up to 300 s). The same attack, scaled down:
 * every held body must be answered (503 beyond the limits, 408 when it does not arrive in
 * time), the bytes received count against INGEST_MAX_IN_FLIGHT_BYTES, and the endpoint serves
 * again afterwards.
 */
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDemo as RunningServer } from '../src/demo/index.js';
import { hexId, otlpSpan, otlpTraces, startTestServer } from './helpers.js';

const MIB = 1024 * 1024;
const IN_FLIGHT = 16 * MIB;
const TIMEOUT_MS = 3_000;
let server: RunningServer & { dataDir: string };

beforeAll(async () => {
  server = await startTestServer({ MAX_BODY_BYTES: String(5 * MIB), MAX_BROWSER_BODY_BYTES: String(5 * MIB), INGEST_MAX_IN_FLIGHT_BYTES: String(IN_FLIGHT), INGEST_BODY_TIMEOUT_MS: String(TIMEOUT_MS), INGEST_MAX_OPEN_BODIES: '8' });
});

afterAll(async () => {
  await server.close();
});

/** Sends all of `body` but its last 16 bytes, and resolves with the status the server answers. */
function holdOpen(body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = new URL(`${server.url}/v1/traces`);
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
      req.destroy();
    });
    req.on('error', (error) => reject(error));
    req.write(body.subarray(0, body.length - 16));
  });
}

describe('request bodies held open', () => {
  it('are answered, counted against the in-flight limit while they arrive, and do not keep ingest out for good', async () => {
    // 4.8 MB of JSON whitespace: about 5 KB gzipped.
    const body = gzipSync(Buffer.alloc(4_800_000, 0x20));
    expect(body.length).toBeLessThan(10_000);
    const before = process.memoryUsage().arrayBuffers;
    const started = performance.now();
    let peak = 0;
    const watch = setInterval(() => (peak = Math.max(peak, server.ingestPool.inFlightBytes, 0)), 10);
    const answers = await Promise.race([
      Promise.all(Array.from({ length: 30 }, () => holdOpen(body))),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('held bodies were never answered')), 4 * TIMEOUT_MS)),
    ]);
    clearInterval(watch);
    const memory = process.memoryUsage().arrayBuffers - before;
    console.log(`30 held bodies answered in ${(performance.now() - started).toFixed(0)} ms: ${JSON.stringify(answers.reduce<Record<number, number>>((n, s) => ({ ...n, [s]: (n[s] ?? 0) + 1 }), {}))}; peak in flight ${(peak / MIB).toFixed(1)} MiB; array buffers +${(memory / MIB).toFixed(1)} MiB`);
    expect(new Set(answers)).toEqual(new Set([408, 503]));
    expect(peak).toBeLessThanOrEqual(IN_FLIGHT);
    expect(server.ingestPool.inFlightBytes).toBe(0);
    const good = JSON.stringify(otlpTraces([otlpSpan(hexId(0x9001, 16), hexId(0x9001, 8))]));
    const after = await fetch(`${server.url}/v1/traces`, { method: 'POST', body: good, headers: { 'content-type': 'application/json' } });
    expect(after.status).toBe(200);
  }, 60_000);
});
