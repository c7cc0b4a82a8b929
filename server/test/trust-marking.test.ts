/** Trust survives forwarding: what reaches a Collector is marked by the endpoint, and only what it accepted. */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeTraceProtobuf as encodeProtobuf } from '../src/core/otlp-protobuf.js';
import { hexId, otlpSpan, otlpTraces, startTestServer } from './helpers.js';

interface Forwarded {
  path: string;
  body: { resourceSpans?: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: { spanId: string }[] }[] }[] };
}

const json = { 'content-type': 'application/json' };
const INTERNAL_TOKEN = 'trust-marking-test-token';

function resourceAttribute(batch: Forwarded['body'], key: string): (string | undefined)[] {
  return (batch.resourceSpans ?? []).map((r) => r.resource.attributes.find((a) => a.key === key)?.value.stringValue);
}

function spanIds(batch: Forwarded['body']): string[] {
  return (batch.resourceSpans ?? []).flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((span) => span.spanId)));
}

describe('forwarded batches carry the source the endpoint decided', () => {
  let upstream: Server;
  const received: Forwarded[] = [];
  let server: Awaited<ReturnType<typeof startTestServer>>;

  beforeAll(async () => {
    upstream = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString()) as Forwarded['body'] });
        res.writeHead(200, json).end('{}');
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    server = await startTestServer({ OTLP_FORWARD_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, INTERNAL_TELEMETRY_TOKEN: INTERNAL_TOKEN });
  });

  afterAll(async () => {
    await server.close();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  /** The forwarded trace batches holding `spanId`. */
  async function forwardedWith(spanId: string): Promise<Forwarded['body']> {
    let found: Forwarded | undefined;
    await vi.waitFor(() => {
      found = received.find((r) => r.path === '/v1/traces' && spanIds(r.body).includes(spanId));
      expect(found).toBeDefined();
    }, { timeout: 15_000 });
    return found!.body;
  }

  /** A browser batch whose resource claims to be the service. */
  function forgedBatch(spans: Record<string, unknown>[]): Record<string, unknown> {
    const batch = otlpTraces(spans, 'recommendation-service') as { resourceSpans: { resource: { attributes: unknown[] } }[] };
    batch.resourceSpans[0]!.resource.attributes.push({ key: 'variant_lens.source', value: { stringValue: 'service' } });
    return batch;
  }

  it('a browser cannot make its spans service: its own variant_lens.source is replaced by browser', async () => {
    const spanId = hexId(0x71, 8);
    const response = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: json, body: JSON.stringify(forgedBatch([otlpSpan(hexId(0x71, 16), spanId)])) });
    expect(response.status).toBe(200);
    const batch = await forwardedWith(spanId);
    expect(resourceAttribute(batch, 'variant_lens.source')).toEqual(['browser']);
    expect(resourceAttribute(batch, 'service.name')).toEqual(['recommendation-service']);
  });

  it('the same claim in protobuf is replaced too', async () => {
    const spanId = hexId(0x72, 8);
    const body = Buffer.from(encodeProtobuf(forgedBatch([otlpSpan(hexId(0x72, 16), spanId)])));
    const response = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
    expect(response.status).toBe(200);
    expect(resourceAttribute(await forwardedWith(spanId), 'variant_lens.source')).toEqual(['browser']);
  });

  it('the deployment’s services, with the internal token, are marked service', async () => {
    const spanId = hexId(0x73, 8);
    const response = await fetch(`${server.url}/v1/traces`, {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${INTERNAL_TOKEN}` },
      body: JSON.stringify(otlpTraces([otlpSpan(hexId(0x73, 16), spanId)], 'feature-store')),
    });
    expect(response.status).toBe(200);
    expect(resourceAttribute(await forwardedWith(spanId), 'variant_lens.source')).toEqual(['service']);
  });

  it('forwards only what the endpoint accepted: a rejected span is left out of the batch', async () => {
    const good = hexId(0x74, 8);
    const bad = { ...otlpSpan(hexId(0x75, 16), hexId(0x75, 8)), endTimeUnixNano: '1' };
    const response = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: json, body: JSON.stringify(otlpTraces([otlpSpan(hexId(0x74, 16), good), bad])) });
    expect(((await response.json()) as { partialSuccess: { rejectedSpans: number } }).partialSuccess.rejectedSpans).toBe(1);
    expect(spanIds(await forwardedWith(good))).toEqual([good]);
  });

  it('forwards nothing for a batch rejected whole', async () => {
    const before = server.forwarder!.stats.forwarded + server.forwarder!.stats.queued;
    const bad = { ...otlpSpan(hexId(0x76, 16), hexId(0x76, 8)), endTimeUnixNano: '1' };
    const response = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: json, body: JSON.stringify(otlpTraces([bad])) });
    expect(response.status).toBe(200);
    expect(server.forwarder!.stats.forwarded + server.forwarder!.stats.queued).toBe(before);
  });

  it('the server’s own spans reach the Collector marked service', async () => {
    await fetch(`${server.url}/api/recommendations?userId=u00042&limit=3`);
    await server.flush();
    await vi.waitFor(() => {
      const own = received.filter((r) => r.path === '/v1/traces' && resourceAttribute(r.body, 'service.name').includes('recommendation-service') && !spanIds(r.body).some((id) => id.startsWith('00000000000000')));
      expect(own.length).toBeGreaterThan(0);
      expect(own.flatMap((r) => resourceAttribute(r.body, 'variant_lens.source'))).toContain('service');
    }, { timeout: 15_000 });
  });
});
