/**
 * The latency figures the ClickHouse analysis computes in SQL (percentiles, distribution, and the
 * percentile guardrails' user-level standard errors from the Woodruff interval) equal what the
 * SQLite path computes from every duration, with enough users per arm for the guardrails' tests to
 * be read, for the whole time and for a window that leaves out the users first served before it.
 */
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseAnalysisSource } from '../src/analysis/clickhouse/clickhouse-analysis-source.js';
import type { AnalysisSource, AnalysisWindow } from '../src/analysis/analysis-source.js';
import { SqliteAnalysisSource } from '../src/analysis/sqlite-analysis-source.js';
import { openClickHouse } from '../src/clickhouse/clickhouse-connection.js';
import { ClickHouseWriter } from '../src/clickhouse/clickhouse-writer.js';
import { readExperimentsFile } from '../src/config.js';
import type { SpanRecord } from '../src/core/telemetry-records.js';
import { AnalysisService } from '../src/services/analysis-service.js';
import { TelemetryStore } from '../src/store/telemetry-store.js';
import { expectNumbersClose, hexId, spanRecord, tempDir } from './helpers.js';

const experiments = readExperimentsFile(join(import.meta.dirname, '../../config/experiments.json')).experiments;
const experiment = experiments[0]!;
const HOUR_MS = 3_600_000;
const START_MS = Date.UTC(2026, 10, 20);
const USERS = 900;

/** Requests of USERS users over two days, durations log-normal around a level per user and variant (hybrid slower), down to sub-ms and with ties. */
function requests(): SpanRecord[] {
  let state = 7;
  const random = () => ((state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const spans: SpanRecord[] = [];
  for (let u = 0; u < USERS; u += 1) {
    const variant = experiment.variants[u % experiment.variants.length]!;
    const level = (variant === 'hybrid' ? 14 : 10) * Math.exp(0.5 * normal());
    const first = START_MS + Math.floor(random() * 40) * HOUR_MS;
    for (let r = 0, n = 1 + Math.floor(random() * 6); r < n; r += 1) {
      const id = spans.length + 1;
      const start = BigInt(first + r * 997_000) * 1_000_000n;
      // Whole µs, so that some users share durations exactly.
      const durationNs = BigInt(Math.max(1, Math.round(level * Math.exp(0.3 * normal()) * 1000))) * 1000n;
      spans.push(
        spanRecord({
          traceId: hexId(id, 16),
          spanId: hexId(id, 8),
          name: 'recommendation.request',
          service: 'recommendation-service',
          startTimeUnixNano: start.toString(),
          endTimeUnixNano: (start + durationNs).toString(),
          attributes: { [experiment.baggageKey]: variant, 'experiment.ranking_boost': 'control', 'user.id': `u${u}`, 'recommendation.request_id': `req-${id}`, 'recommendation.count': 4 },
          trusted: true,
        }),
      );
    }
  }
  return spans;
}

describe('latency on ClickHouse, computed in SQL, against the lists on SQLite', () => {
  let client: ClickHouseClient;
  let clickhouse: AnalysisSource;
  let sqlite: AnalysisSource;

  beforeAll(async () => {
    const spans = requests();
    const path = join(tempDir('latency-sqlite'), 'telemetry.db');
    const store = new TelemetryStore({ path, requestService: 'recommendation-service' });
    store.write(spans, []);
    store.close();
    sqlite = new SqliteAnalysisSource(path);
    client = openClickHouse({ url: `chdb:${tempDir('latency-chdb')}`, database: 'otel' });
    const writer = new ClickHouseWriter(client, 'otel');
    await writer.writeRecords(spans, []);
    // An exporter's retry: a batch twice, counted once.
    await writer.writeRecords(spans.slice(0, 200), []);
    clickhouse = new ClickHouseAnalysisSource(client, { database: 'otel', requestService: 'recommendation-service', experimentKeys: experiments.map((e) => e.baggageKey) }, false);
  });
  afterAll(async () => {
    await clickhouse?.close();
    await sqlite?.close();
    await client?.close();
  });

  for (const [name, window] of [
    ['the whole time', { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER }],
    ['a window after the first day', { fromMs: START_MS + 20 * HOUR_MS, toMs: Number.MAX_SAFE_INTEGER }],
  ] as const satisfies readonly (readonly [string, AnalysisWindow])[]) {
    it(`${name}: the same percentiles, distribution and user-level percentile guardrails`, async () => {
      // ClickHouse ships latency figures, not lists; SQLite the lists.
      const [fromSql, fromLists] = await Promise.all([clickhouse.read(experiment, window), sqlite.read(experiment, window)]);
      expect(fromSql.latency).toBeDefined();
      expect(fromLists.latency).toBeUndefined();
      const request = window.fromMs === 0 ? {} : { from: new Date(window.fromMs).toISOString() };
      const [a, b] = await Promise.all([new AnalysisService(clickhouse, experiments).results(experiment, request), new AnalysisService(sqlite, experiments).results(experiment, request)]);
      const latency = (r: typeof a) => r.variants.map((v) => ({ users: v.users, requests: v.requests, latencyMs: v.latencyMs, distribution: v.latencyDistribution, guardrails: v.guardrails && { p50: v.guardrails.latencyP50Ms, p95: v.guardrails.latencyP95Ms, p50Diff: v.guardrails.latencyP50DiffMs, p95Diff: v.guardrails.latencyP95DiffMs } }));
      expectNumbersClose(latency(a), latency(b));
      // Enough users for the guardrails to be read: their standard errors are compared, not only their values.
      const hybrid = b.variants.find((v) => v.variant === 'hybrid')!;
      expect(hybrid.guardrails!.latencyP95Ms!.pValue).not.toBeNull();
      expect(hybrid.guardrails!.latencyP50Ms!.diffCs[0]).not.toBeNull();
    });
  }
});
