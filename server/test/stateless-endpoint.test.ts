/** `STORE=none`: the stateless forwarding endpoint, against a real upstream HTTP server. */
import { existsSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';
import { startStatelessEndpoint, StatelessIngest, type RunningEndpoint } from '../src/edge/stateless-endpoint.js';
import { OtlpForwarder } from '../src/services/otlp-forwarder.js';
import { hexId, otlpSpan, otlpTraces, tempDir } from './helpers.js';

const json = { 'content-type': 'application/json' };
const TOKEN = 'stateless-test-token';
const ORIGIN = 'https://news.example';

interface Received {
  path: string;
  body: string;
}

let upstream: Server;
const received: Received[] = [];
/** While set, upstream holds every request open (a Collector that stopped answering). */
let hang = false;
const held: (() => void)[] = [];
let endpoint: RunningEndpoint;
let dataDir: string;

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PORT: '0', DATA_DIR: dataDir, STORE: 'none', CORS_ORIGINS: ORIGIN, INTERNAL_TELEMETRY_TOKEN: TOKEN, ...extra };
}

beforeAll(async () => {
  upstream = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = () => {
        received.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString() });
        res.writeHead(200, json).end('{}');
      };
      if (hang) held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  dataDir = tempDir('stateless');
  endpoint = await startStatelessEndpoint(loadConfig(env({ OTLP_FORWARD_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` })));
});

afterAll(async () => {
  hang = false;
  held.splice(0).forEach((answer) => answer());
  await endpoint?.close();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
});

async function forwardedWith(spanId: string): Promise<{ resourceSpans: { resource: { attributes: { key: string; value: { stringValue: string } }[] }; scopeSpans: { spans: { spanId: string }[] }[] }[] }> {
  let body: string | undefined;
  await vi.waitFor(() => {
    body = received.find((r) => r.path === '/v1/traces' && r.body.includes(spanId))?.body;
    expect(body).toBeDefined();
  }, { timeout: 15_000 });
  return JSON.parse(body!) as never;
}

describe('STORE=none', () => {
  it('forwards what it accepted, marked browser, and keeps nothing on disk', async () => {
    const good = hexId(0x51, 8);
    const bad = { ...otlpSpan(hexId(0x52, 16), hexId(0x52, 8)), spanId: 'not-hex' };
    const body = otlpTraces([otlpSpan(hexId(0x51, 16), good), bad]) as { resourceSpans: { resource: { attributes: unknown[] } }[] };
    body.resourceSpans[0]!.resource.attributes.push({ key: 'variant_lens.source', value: { stringValue: 'service' } });
    const response = await fetch(`${endpoint.url}/v1/traces`, { method: 'POST', headers: { ...json, origin: ORIGIN }, body: JSON.stringify(body) });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(((await response.json()) as { partialSuccess: { rejectedSpans: number } }).partialSuccess.rejectedSpans).toBe(1);
    const forwarded = await forwardedWith(good);
    expect(forwarded.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((span) => span.spanId)))).toEqual([good]);
    expect(forwarded.resourceSpans[0]!.resource.attributes).toContainEqual({ key: 'variant_lens.source', value: { stringValue: 'browser' } });
    expect(existsSync(join(dataDir, 'telemetry.db'))).toBe(false);
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('marks the deployment’s own services, sent with the internal token, as service', async () => {
    const spanId = hexId(0x53, 8);
    const response = await fetch(`${endpoint.url}/v1/traces`, {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(otlpTraces([otlpSpan(hexId(0x53, 16), spanId)], 'feature-store')),
    });
    expect(response.status).toBe(200);
    expect((await forwardedWith(spanId)).resourceSpans[0]!.resource.attributes).toContainEqual({ key: 'variant_lens.source', value: { stringValue: 'service' } });
  });

  it('validates and bounds as the full server does: bad bodies get a 4xx naming the problem', async () => {
    const malformed = await fetch(`${endpoint.url}/v1/traces`, { method: 'POST', headers: json, body: '{"resourceSpans": 5}' });
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: string }).error).toMatch(/resourceSpans must be an array/);
    const tooBig = await fetch(`${endpoint.url}/v1/traces`, { method: 'POST', headers: json, body: 'x'.repeat(6 * 1024 * 1024) });
    expect(tooBig.status).toBe(413);
    const wrongType = await fetch(`${endpoint.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    expect(wrongType.status).toBe(415);
    const preflight = await fetch(`${endpoint.url}/v1/traces`, { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'POST' } });
    expect(preflight.status).toBe(204);
    expect((await fetch(`${endpoint.url}/api/experiments`)).status).toBe(404);
    expect(await (await fetch(`${endpoint.url}/healthz`)).json()).toMatchObject({ status: 'ok', store: 'none' });
  });

  it('refuses to start with nowhere to send telemetry', async () => {
    await expect(startStatelessEndpoint(loadConfig(env()))).rejects.toThrow(ConfigError);
    await expect(startStatelessEndpoint(loadConfig(env()))).rejects.toThrow(/STORE=none needs somewhere to send telemetry/);
  });

  it('has no room while the forward queue is full (the routes then answer 503 with Retry-After) instead of dropping accepted batches', async () => {
    hang = true;
    const forwarder = new OtlpForwarder({ url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, maxQueuedBytes: 1000, maxAttempts: 1, initialBackoffMs: 10, maxBackoffMs: 10, timeoutMs: 60_000 });
    const ingest = new StatelessIngest({ forwarder, maxQueuedBytes: 1000 });
    expect(ingest.hasRoomFor(600)).toBe(true);
    forwarder.enqueue('traces', Buffer.alloc(600), 'application/json');
    expect(ingest.hasRoomFor(600)).toBe(false);
    expect(ingest.hasRoomFor(300)).toBe(true);
    hang = false;
    held.splice(0).forEach((answer) => answer());
    await forwarder.close(5000);
  });
});
