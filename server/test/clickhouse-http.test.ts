/**
 * The ClickHouse backend as production runs it: `@clickhouse/client` over HTTP to a ClickHouse
 * server (ClickHouse's engine from `chdb`'s library with its HTTP handler, `clickhouse-server.ts`).
 * The exporter's tables are created and written over HTTP, the analysis tables created and filled
 * by the first read, and the results and the trace view read over HTTP equal what the SQLite
 * backend reads from the same spans: users, clicks judged (a duplicate, a forged claim, a click
 * on content not served, a click naming no request), views, latency and its guardrails.
 */
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseAnalysisSource } from '../src/analysis/clickhouse/clickhouse-analysis-source.js';
import { ClickHouseTraceSource } from '../src/analysis/clickhouse/clickhouse-trace-source.js';
import { SqliteAnalysisSource } from '../src/analysis/sqlite-analysis-source.js';
import { openClickHouse } from '../src/clickhouse/clickhouse-connection.js';
import { ClickHouseWriter } from '../src/clickhouse/clickhouse-writer.js';
import { readExperimentsFile } from '../src/config.js';
import type { SpanRecord } from '../src/core/telemetry-records.js';
import { AnalysisService } from '../src/services/analysis-service.js';
import { TelemetryStore } from '../src/store/telemetry-store.js';
import { startClickHouseServer, type ClickHouseServer } from './clickhouse-server.js';
import { expectNumbersClose, hexId, spanRecord, tempDir } from './helpers.js';

const experiments = readExperimentsFile(join(import.meta.dirname, '../../config/experiments.json')).experiments;
const experiment = experiments[0]!;
const KEY = experiment.baggageKey;
const HOUR_MS = 3_600_000;
const START_MS = Date.UTC(2026, 10, 20);
const USERS = 450;

function span(id: number, name: string, startMs: number, durationUs: number, attributes: SpanRecord['attributes'], trusted: boolean): SpanRecord {
  const start = BigInt(startMs) * 1_000_000n;
  const end = start + BigInt(durationUs) * 1000n;
  const service = trusted ? 'recommendation-service' : 'content-site';
  return spanRecord({ traceId: hexId(id, 16), spanId: hexId(id, 8), name, service, startTimeUnixNano: start.toString(), endTimeUnixNano: end.toString(), attributes, trusted });
}

/** Requests of USERS users over two days with their served lists; views; clicks, a few of them forged, duplicated, off the list or naming no request. */
function telemetry(): SpanRecord[] {
  let state = 11;
  const random = () => ((state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const spans: SpanRecord[] = [];
  let id = 0;
  for (let u = 0; u < USERS; u += 1) {
    const variant = experiment.variants[u % experiment.variants.length]!;
    const first = START_MS + Math.floor(random() * 40) * HOUR_MS;
    for (let r = 0, n = 1 + Math.floor(random() * 4); r < n; r += 1) {
      const requestId = `req-${u}-${r}`;
      const startMs = first + r * 997_000;
      const contentIds = Array.from({ length: 4 }, (_, i) => `article-${(u * 7 + r * 3 + i) % 50}`);
      const attributes = { [KEY]: variant, 'experiment.ranking_boost': 'control', 'user.id': `u${u}`, 'recommendation.request_id': requestId, 'recommendation.count': 4, 'recommendation.content_ids': contentIds };
      spans.push(span((id += 1), 'recommendation.request', startMs, Math.round((variant === 'hybrid' ? 14_000 : 10_000) * (0.5 + random())), attributes, true));
      const event = (name: string, contentId: string, claims: Record<string, string>, afterMs = 5_000) =>
        spans.push(span((id += 1), name, startMs + afterMs, 0, { 'recommendation.request_id': requestId, 'content.id': contentId, ...claims }, false));
      event('recommendation.view', contentIds[0]!, { [KEY]: variant });
      const roll = random();
      if (roll < (variant === 'hybrid' ? 0.35 : 0.25)) event('recommendation.click', contentIds[Math.floor(random() * 4)]!, { [KEY]: variant });
      if (roll < 0.03) event('recommendation.click', contentIds[1]!, { [KEY]: variant }, 9_000); // the same content again: once
      if (roll > 0.97) event('recommendation.click', contentIds[2]!, { [KEY]: variant === 'control' ? 'hybrid' : 'control' }); // a forged claim
      if (roll > 0.95 && roll <= 0.97) event('recommendation.click', 'article-not-served', { [KEY]: variant });
    }
  }
  spans.push(span((id += 1), 'recommendation.click', START_MS + HOUR_MS, 0, { 'recommendation.request_id': 'req-never-served', 'content.id': 'article-1', [KEY]: 'hybrid' }, false));
  return spans;
}

describe('ClickHouse over HTTP (a real server, @clickhouse/client as in production)', () => {
  let server: ClickHouseServer;
  let client: ClickHouseClient;
  let clickhouse: AnalysisService;
  let sqlite: AnalysisService;
  const spans = telemetry();

  beforeAll(async () => {
    server = await startClickHouseServer(tempDir('clickhouse-http'));
    client = openClickHouse({ url: server.url, database: 'otel' });
    const writer = new ClickHouseWriter(client, 'otel');
    await writer.ensureSchema();
    // Written before the analysis tables exist (the first read creates and backfills them), and after.
    await writer.writeRecords(spans.slice(0, 1000), []);
    const path = join(tempDir('clickhouse-http-sqlite'), 'telemetry.db');
    const store = new TelemetryStore({ path, requestService: 'recommendation-service' });
    store.write(spans, []);
    store.close();
    sqlite = new AnalysisService(new SqliteAnalysisSource(path), experiments);
    const source = new ClickHouseAnalysisSource(client, { database: 'otel', requestService: 'recommendation-service', experimentKeys: experiments.map((e) => e.baggageKey) }, false);
    clickhouse = new AnalysisService(source, experiments);
    await clickhouse.results(experiment);
    await writer.writeRecords(spans.slice(1000), []);
    // An exporter's retry: a batch twice, counted once.
    await writer.writeRecords(spans.slice(0, 300), []);
  }, 180_000);

  afterAll(async () => {
    await clickhouse?.close();
    await sqlite?.close();
    await client?.close();
    await server?.stop();
  });

  for (const [name, request] of [
    ['the whole time', {}],
    ['a window after the first day', { from: new Date(START_MS + 20 * HOUR_MS).toISOString() }],
  ] as const) {
    it(`${name}: the same results as the SQLite backend`, async () => {
      const [a, b] = await Promise.all([clickhouse.results(experiment, request), sqlite.results(experiment, request)]);
      expectNumbersClose(a, b);
      // The data has what the rules judge: counted and rejected clicks, and guardrails to read.
      const hybrid = b.variants.find((v) => v.variant === 'hybrid')!;
      expect(hybrid.clicks).toBeGreaterThan(20);
      if (name === 'the whole time') {
        expect(hybrid.guardrails!.latencyP95Ms!.pValue).not.toBeNull();
        expect(b.rejectedClicks.variantMismatch).toBeGreaterThan(0);
        expect(b.rejectedClicks.unknownRequest).toBe(1);
      }
    });
  }

  it('reads a trace over HTTP', async () => {
    const traces = new ClickHouseTraceSource(client, 'otel');
    const read = await traces.trace(spans[0]!.traceId, 100);
    expect(read?.count).toBe(1);
    const stored = [];
    for await (const chunk of read!.chunks(10)) stored.push(...chunk);
    expect(stored.map((s) => s.name)).toEqual(['recommendation.request']);
    expect(stored[0]?.attributes['recommendation.request_id']).toBe('req-0-0');
  });
});
