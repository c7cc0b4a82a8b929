/**
 * What a browser may post is bounded by what it costs to decode, not only by its size: a few
 * kilobytes of gzip inflating to megabytes of empty OTLP messages (`0a 00` is an empty
 * `ResourceSpans`; `{}` an empty object) made millions of objects per request — 2.9 s of an
 * ingest worker and 450 MB for one 5 KB request in the review (session 14), and with twelve of
 * them a normal export waited 38 s. Bodies without a service token are held to
 * `MAX_BROWSER_BODY_BYTES` after inflation and to so many messages; the service's own exports
 * keep `MAX_BODY_BYTES`.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startServer, type RunningServer } from '../src/server.js';
import { hexId, otlpSpan, otlpTraces, readAuth, TEST_READ_TOKEN, tempDir } from './helpers.js';

const TOKEN = 'service-token-0123456789abcdef';
let server: RunningServer;

beforeAll(async () => {
  const config = loadConfig(
    { PORT: '0', DATA_DIR: tempDir('untrusted-bounds'), EXPERIMENTS_FILE: 'config/experiments.json', SERVICE_TOKENS: TOKEN, METRIC_INTERVAL_MS: '100000', READ_TOKEN: TEST_READ_TOKEN, RETENTION_MAX_AGE_HOURS: '0' },
    { demo: false },
  );
  server = await startServer(config);
});

afterAll(async () => {
  await server.close();
});

/** `count` copies of `unit`. */
function repeated(unit: number[], count: number): Buffer {
  const bytes = Buffer.alloc(unit.length * count);
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = unit[i % unit.length]!;
  return bytes;
}

/** A length-delimited protobuf field. */
function field(id: number, content: Buffer): Buffer {
  const length: number[] = [];
  for (let n = content.length; ; n >>>= 7) {
    if (n < 0x80) {
      length.push(n);
      break;
    }
    length.push((n & 0x7f) | 0x80);
  }
  return Buffer.concat([Buffer.from([(id << 3) | 2, ...length]), content]);
}

async function post(signal: 'traces' | 'metrics', body: Buffer, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const response = await fetch(`${server.url}/v1/${signal}`, { method: 'POST', headers, body: new Uint8Array(body) });
  return { status: response.status, text: await response.text() };
}

const PROTOBUF = { 'content-type': 'application/x-protobuf' };
const JSON_BODY = { 'content-type': 'application/json' };

describe('a body from a browser (no service token)', () => {
  it('is refused past MAX_BROWSER_BODY_BYTES once inflated: 5 MiB of empty resources in 5 KB of gzip', async () => {
    const bomb = gzipSync(repeated([0x0a, 0x00], 2_621_440), { level: 9 });
    expect(bomb.length).toBeLessThan(8 * 1024);
    const answer = await post('traces', bomb, { ...PROTOBUF, 'content-encoding': 'gzip' });
    expect(answer.status).toBe(413);
    expect(answer.text).toContain('MAX_BROWSER_BODY_BYTES');
  });

  it('is refused when it holds more resources and scopes than any export does, before it is decoded', async () => {
    const answer = await post('traces', repeated([0x0a, 0x00], 200_000), PROTOBUF);
    expect(answer.status).toBe(400);
    expect(answer.text).toMatch(/200000 resources and scopes, at most 1000/);
  });

  it('is refused when it holds more spans than any browser batch, before they are decoded', async () => {
    // One resource, one scope, 50,000 empty spans.
    const body = field(1, field(2, repeated([0x12, 0x00], 50_000)));
    const answer = await post('traces', body, PROTOBUF);
    expect(answer.status).toBe(400);
    expect(answer.text).toMatch(/50000 spans, at most 10000/);
  });

  it('is refused when it holds more metric points than any browser batch', async () => {
    // One resource, one scope, one metric whose sum holds 50,000 empty points.
    const body = field(1, field(2, field(2, field(7, repeated([0x0a, 0x00], 50_000)))));
    const answer = await post('metrics', body, PROTOBUF);
    expect(answer.status).toBe(400);
    expect(answer.text).toMatch(/50001 metrics and points, at most 10000/);
  });

  it('in OTLP/JSON is refused when it holds more objects than any export of its size, before it is parsed', async () => {
    const body = Buffer.from(`{"resourceSpans":[${Array.from({ length: 200_000 }, () => '{}').join(',')}]}`);
    const answer = await post('traces', body, JSON_BODY);
    expect(answer.status).toBe(400);
    expect(answer.text).toMatch(/200001 JSON objects, at most 100000/);
  });

  it('of the usual kind is accepted as before', async () => {
    const spans = Array.from({ length: 30 }, (_, i) => otlpSpan(hexId(0xb0d1, 16), hexId(i + 1, 8), { 'recommendation.position': i }));
    expect((await post('traces', Buffer.from(JSON.stringify(otlpTraces(spans))), JSON_BODY)).status).toBe(200);
  });
});

describe('a body from a service (with its token)', () => {
  it('keeps MAX_BODY_BYTES and the counts of a service export: 20,000 spans in one request', async () => {
    const spans = Array.from({ length: 20_000 }, (_, i) => otlpSpan(hexId(0x5e7, 16), hexId(i + 1, 8)));
    const body = Buffer.from(JSON.stringify(otlpTraces(spans, 'recommendation-service')));
    expect(body.length).toBeGreaterThan(1024 * 1024);
    expect((await post('traces', body, { ...JSON_BODY, authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  });
});

describe('what a span stores', () => {
  /** A span of 128 attributes of 4,096 characters (half a megabyte, within the decode limits), stored and read back. */
  async function storedAttributeChars(traceNumber: number, headers: Record<string, string>): Promise<{ attributes: number; chars: number }> {
    const traceId = hexId(traceNumber, 16);
    const attributes = Object.fromEntries(Array.from({ length: 128 }, (_, i) => [`note.${String(i).padStart(3, '0')}`, String(i % 10).repeat(4096)]));
    const body = Buffer.from(JSON.stringify(otlpTraces([otlpSpan(traceId, hexId(1, 8), attributes)])));
    expect((await post('traces', body, { ...JSON_BODY, ...headers })).status).toBe(200);
    await server.ingestPool.drain();
    const { spans } = (await (await fetch(`${server.url}/api/traces/${traceId}`, { headers: readAuth })).json()) as { spans: { attributes: Record<string, unknown> }[] };
    const stored = Object.entries(spans[0]!.attributes).filter(([key]) => key.startsWith('note.'));
    return { attributes: stored.length, chars: stored.reduce((sum, [key, value]) => sum + key.length + String(value).length, 0) };
  }

  it('from a browser is at most 16,384 characters of attributes; from a service, all of them', async () => {
    const browser = await storedAttributeChars(0xa77, {});
    expect(browser.chars).toBeLessThanOrEqual(16_384);
    expect(browser.attributes).toBe(3);
    expect(await storedAttributeChars(0xa78, { authorization: `Bearer ${TOKEN}` })).toEqual({ attributes: 128, chars: 128 * (8 + 4096) });
  });
});
