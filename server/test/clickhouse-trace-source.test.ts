/**
 * The trace view on ClickHouse: with `ANALYSIS_BACKEND=clickhouse`, `GET /api/traces/:traceId`
 * reads the trace from the exporter's `otel_traces` (here on chdb), in the shape the SQLite
 * store gives it, except that attribute values are the exporter's strings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreTraceSource } from '../src/analysis/trace-source.js';
import { TelemetryStore } from '../src/store/telemetry-store.js';
import { hexId, otlpSpan, otlpTraces, readAuth, startTestServer, tempDir } from './helpers.js';
import { join } from 'node:path';

let server: Awaited<ReturnType<typeof startTestServer>>;

beforeAll(async () => {
  server = await startTestServer({ CLICKHOUSE_URL: `chdb:${tempDir('trace-chdb')}`, ANALYSIS_BACKEND: 'clickhouse' });
});

afterAll(async () => {
  await server?.close();
});

interface TraceBody {
  traceId: string;
  count: number;
  truncated: boolean;
  spans: { spanId: string; parentSpanId: string | null; name: string; kind: number; startTimeUnixNano: string; endTimeUnixNano: string; durationMs: number; status: unknown; attributes: Record<string, unknown>; events: unknown[]; links: unknown[]; trusted: boolean }[];
}

describe('the trace view on ClickHouse (chdb)', () => {
  it('reads a posted trace from the exporter tables: spans by start time, ids, kinds, times, events, links, the source mark', async () => {
    const traceId = hexId(0xc1c1, 16);
    const root = { ...otlpSpan(traceId, hexId(1, 8), { 'recommendation.request_id': 'r-1', 'recommendation.position': 3 }), kind: 2, name: 'page' };
    const child = {
      ...otlpSpan(traceId, hexId(2, 8), { 'content.id': 'a1' }),
      parentSpanId: hexId(1, 8),
      startTimeUnixNano: '1795000000000500000',
      endTimeUnixNano: '1795000000002750000',
      status: { code: 2, message: 'boom' },
      events: [{ name: 'retry', timeUnixNano: '1795000000000600000', attributes: [{ key: 'attempt', value: { intValue: '2' } }] }],
      links: [{ traceId: hexId(9, 16), spanId: hexId(9, 8), attributes: [] }],
    };
    const posted = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(otlpTraces([child, root])) });
    expect(posted.status).toBe(200);

    const response = await fetch(`${server.url}/api/traces/${traceId.toUpperCase()}`, { headers: readAuth });
    expect(response.status).toBe(200);
    const body = (await response.json()) as TraceBody;
    expect(body).toMatchObject({ traceId, count: 2, truncated: false });
    expect(body.spans.map((s) => s.spanId)).toEqual([hexId(1, 8), hexId(2, 8)]);
    const [first, second] = body.spans;
    expect(first).toMatchObject({ parentSpanId: null, name: 'page', kind: 2, startTimeUnixNano: '1795000000000000000', endTimeUnixNano: '1795000000001000000', durationMs: 1, trusted: false });
    // The exporter keeps attributes as Map(String, String): the SQLite store's 3 is '3' here.
    expect(first!.attributes).toEqual({ 'recommendation.request_id': 'r-1', 'recommendation.position': '3' });
    expect(second).toMatchObject({ parentSpanId: hexId(1, 8), durationMs: 2.25, status: { code: 2, message: 'boom' } });
    expect(second!.events).toEqual([{ name: 'retry', timeUnixNano: '1795000000000600000', attributes: { attempt: '2' } }]);
    expect(second!.links).toEqual([{ traceId: hexId(9, 16), spanId: hexId(9, 8), attributes: {} }]);

    // The SQLite store beside it holds the same spans with typed values: the route read ClickHouse.
    const store = new TelemetryStore({ path: join(server.dataDir, 'telemetry.db') });
    try {
      const sqlite = await new StoreTraceSource(store).trace(traceId, 10, () => false);
      const spans = [];
      for await (const chunk of sqlite!.chunks(10)) spans.push(...chunk);
      expect(spans.map((s) => [s.spanId, s.startTimeUnixNano, s.endTimeUnixNano, s.durationMs, s.kind, s.trusted])).toEqual(
        body.spans.map((s) => [s.spanId, s.startTimeUnixNano, s.endTimeUnixNano, s.durationMs, s.kind, s.trusted]),
      );
      expect(spans[0]!.attributes['recommendation.position']).toBe(3);
    } finally {
      store.close();
    }
  });

  it('answers 404 for a trace ClickHouse does not hold', async () => {
    const response = await fetch(`${server.url}/api/traces/${hexId(0xdead, 16)}`, { headers: readAuth });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: `no spans stored for trace ${hexId(0xdead, 16)}` });
  });
});
