/**
 * Issue 15 (ingest not slower than before the house): each OTLP body used to be copied twice on
 * the server's main thread — gathered by `Buffer.concat` (small results sharing Node's pool) and
 * copied again for the ingest worker. At the ingest benchmark's load the main thread spent +110 µs
 * per 100-span body beside faf0ebb, most of it in those copies and the garbage collection after
 * them (900 bodies/s, cpuprofile). A body is now gathered once into memory of its own, which the
 * pool hands to the worker without copying it again.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDemo as RunningServer } from '../src/demo/index.js';
import { OpenBodies } from '../src/routes/otlp-body.js';
import { hexId, otlpSpan, otlpTraces, startTestServer } from './helpers.js';

const bodies = new OpenBodies({ maxBytes: 5 * 1024 * 1024, maxOpenBodies: 8, timeoutMs: 5_000 });
const budget = { reserve: () => true, release: () => undefined };
let echo: Server;
let echoUrl: URL;
let server: RunningServer & { dataDir: string };

beforeAll(async () => {
  // Answers with what OpenBodies read: the body's bytes, and whether its memory is its own.
  echo = createServer((req, res) => {
    bodies.read(req, budget).then(
      ({ body }) => res.end(JSON.stringify({ text: body.toString(), own: body.byteOffset === 0 && body.byteLength === body.buffer.byteLength })),
      (error: Error) => res.writeHead(500).end(error.message),
    );
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoUrl = new URL(`http://127.0.0.1:${(echo.address() as AddressInfo).port}/`);
  server = await startTestServer();
});

afterAll(async () => {
  await new Promise((resolve) => echo.close(resolve));
  await server.close();
});

/** Posts `chunks` (chunked unless `headers` give a content-length) and resolves with the echo's answer. */
function post(chunks: Buffer[], headers: Record<string, string | number> = {}): Promise<{ text: string; own: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: echoUrl.hostname, port: echoUrl.port, method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(text))));
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('an OTLP body read by the endpoint', () => {
  const text = JSON.stringify(otlpTraces([otlpSpan(hexId(1, 16), hexId(1, 8))]));

  it('has memory of its own, with or without a declared length, inflated or not', async () => {
    const bytes = Buffer.from(text);
    expect(bytes.length).toBeLessThan(4096); // what Buffer.concat would have cut from Node's shared pool
    const halves = [bytes.subarray(0, 100), bytes.subarray(100)];
    expect(await post(halves, { 'content-length': bytes.length })).toEqual({ text, own: true });
    expect(await post(halves)).toEqual({ text, own: true });
    expect(await post([gzipSync(bytes)], { 'content-encoding': 'gzip' })).toEqual({ text, own: true });
    expect(await post([Buffer.alloc(0)], { 'content-length': 0 })).toEqual({ text: '', own: true });
  });

  it('is handed to an ingest worker without a copy when it owns its memory, and copied otherwise', async () => {
    const owned = Buffer.from(new TextEncoder().encode(text).buffer);
    const outcome = await server.ingestPool.ingest('traces', 'json', owned, { parseOnly: true, owned: true });
    expect(outcome.rejected).toBe(0);
    // Transferred: the caller's Buffer no longer holds the bytes.
    expect(owned.length).toBe(0);

    const shared = Buffer.from(text);
    await server.ingestPool.ingest('traces', 'json', shared, { parseOnly: true, owned: true });
    // A slice of Node's pool claimed as owned is still copied: the other Buffers in that memory stay whole.
    expect(shared.toString()).toBe(text);
  });
});
