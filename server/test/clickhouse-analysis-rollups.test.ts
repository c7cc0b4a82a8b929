/**
 * The ClickHouse analysis tables that hold rows already reduced at insert (the downstream spans
 * per key with their duration buckets, the delta metric rollups) read the same figures as the
 * SQLite store's rollups of the same telemetry: spans stored before the views existed (the
 * backfill), spans arriving out of time order, and a batch delivered twice (an exporter's retry,
 * counted once: downstream spans are deduplicated by span).
 */
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureAnalysisTables } from '../src/analysis/clickhouse/analysis-tables.js';
import { ClickHouseAnalysisSource } from '../src/analysis/clickhouse/clickhouse-analysis-source.js';
import type { AnalysisData, AnalysisWindow } from '../src/analysis/analysis-source.js';
import { SqliteAnalysisSource } from '../src/analysis/sqlite-analysis-source.js';
import { openClickHouse } from '../src/clickhouse/clickhouse-connection.js';
import { ClickHouseWriter } from '../src/clickhouse/clickhouse-writer.js';
import { readExperimentsFile } from '../src/config.js';
import type { MetricPointRecord, SpanRecord } from '../src/core/telemetry-records.js';
import { TelemetryStore } from '../src/store/telemetry-store.js';
import { hexId, tempDir } from './helpers.js';

const experiments = readExperimentsFile(join(import.meta.dirname, '../../config/experiments.json')).experiments;
const experiment = experiments[0]!;
const KEY = experiment.baggageKey;
const START_MS = 1_795_000_000_000;
const MINUTE_MS = 60_000;
const VARIANTS = experiment.variants;

let id = 0;
function span(name: string, kind: number, startMs: number, durationNs: number, attributes: SpanRecord['attributes']): SpanRecord {
  const start = BigInt(startMs) * 1_000_000n + BigInt(id % 1000);
  id += 1;
  return {
    traceId: hexId(id, 16),
    spanId: hexId(id, 8),
    parentSpanId: null,
    name,
    kind,
    service: 'recommendation-service',
    scope: 'test',
    startTimeUnixNano: start.toString(),
    endTimeUnixNano: (start + BigInt(durationNs)).toString(),
    statusCode: 0,
    statusMessage: '',
    attributes,
    events: [],
    links: [],
    trusted: true,
  };
}

function point(name: string, kind: 'sum' | 'histogram', minute: number, variant: string, trusted: boolean, value: number, bounds?: number[]): MetricPointRecord {
  const time = ((BigInt(START_MS + minute * MINUTE_MS) + 1234n) * 1_000_000n).toString();
  return {
    service: 'recommendation-service',
    resourceKey: '{}',
    scope: 'test',
    name,
    unit: kind === 'histogram' ? 'ms' : '',
    kind,
    temporality: 1,
    monotonic: kind === 'sum',
    attributes: { [KEY]: variant, 'experiment.ranking_boost': 'control' },
    startTimeUnixNano: time,
    timeUnixNano: time,
    value: kind === 'sum' ? value : null,
    count: kind === 'histogram' ? value : null,
    sum: kind === 'histogram' ? value * 3 : null,
    bucketCounts: bounds === undefined ? null : bounds.map((_, i) => (i + value) % 4).concat([1]),
    explicitBounds: bounds ?? null,
    trusted,
  };
}

/** Downstream work of many variants, names, cohorts and durations (down to under a µs, which the bucket clamps) across ten minutes. */
function downstreamSpans(): SpanRecord[] {
  const spans: SpanRecord[] = [];
  for (let i = 0; i < 240; i += 1) {
    const variant = VARIANTS[i % VARIANTS.length]!;
    const attrs = { [KEY]: variant, 'experiment.ranking_boost': i % 2 ? 'control' : 'recency_boost', 'user.cohort': i % 3 ? 'registered' : 'guest' };
    const at = START_MS + (i % 10) * MINUTE_MS + (i * 997) % MINUTE_MS;
    spans.push(span('cache.get features', 3, at, 10_000 + ((i * 7919) % 50_000), { ...attrs, 'cache.hits': i % 4, 'cache.misses': i % 5 === 0 ? 1 : 0 }));
    spans.push(span('SELECT neighbours', 3, at, 300_000 + ((i * 104_729) % 2_000_000), { ...attrs, 'db.system.name': 'sqlite' }));
    // Another service's server span is downstream work.
    spans.push({ ...span('GET /features/:userId', 2, at, 500 + (i % 3) * 100, attrs), service: 'feature-store' });
    // Not downstream work: the request service's own server span, and a forced (QA) visitor's work.
    if (i % 7 === 0) spans.push(span('GET /api/recommendations', 2, at, 5_000_000, attrs));
    if (i % 11 === 0) spans.push(span('SELECT articles', 3, at, 400_000, { ...attrs, 'experiment.forced': true }));
  }
  // Out of time order, as batches from many services arrive.
  return spans.sort((a, b) => (a.spanId.charCodeAt(15) % 3) - (b.spanId.charCodeAt(15) % 3));
}

function metricPoints(): MetricPointRecord[] {
  const points: MetricPointRecord[] = [];
  for (let minute = 9; minute >= 0; minute -= 1) {
    for (const [v, variant] of VARIANTS.entries()) {
      points.push(point('recommendation.impressions', 'sum', minute, variant, true, 8 + v + minute));
      points.push(point('recommendation.click_through', 'sum', minute, variant, false, 1 + (minute % 2)));
      // A browser's impressions never count: only the service's.
      points.push(point('recommendation.impressions', 'sum', minute, variant, false, 1000));
      points.push(point('recommendation.latency', 'histogram', minute, variant, true, 10 + minute, [1, 5, 10]));
      if (minute % 4 === 0) points.push(point('recommendation.latency', 'histogram', minute, variant, true, 3, [2, 4]));
    }
  }
  return points;
}

/** What these tables feed: the downstream groups, cache figures, metric totals and latency histograms. */
function rolledUp(data: AnalysisData) {
  return { downstream: data.downstream, cache: [...data.cache].sort(), metrics: [...data.metrics].sort(), latencyHistograms: [...data.latencyHistograms].sort() };
}

describe('ClickHouse rollup tables against the SQLite rollups', () => {
  let client: ClickHouseClient;
  let clickhouse: ClickHouseAnalysisSource;
  let sqlite: SqliteAnalysisSource;

  beforeAll(async () => {
    const spans = downstreamSpans();
    const points = metricPoints();
    const path = join(tempDir('rollups-sqlite'), 'telemetry.db');
    const store = new TelemetryStore({ path, requestService: 'recommendation-service' });
    store.write(spans, points);
    store.close();
    sqlite = new SqliteAnalysisSource(path);

    client = openClickHouse({ url: `chdb:${tempDir('rollups-chdb')}`, database: 'otel' });
    const writer = new ClickHouseWriter(client, 'otel');
    const half = Math.floor(spans.length / 2);
    // Half before the views exist (backfilled when they are created), half after, and a batch twice.
    await writer.writeRecords(spans.slice(0, half), points.slice(0, 40));
    await ensureAnalysisTables(client, 'otel');
    await writer.writeRecords(spans.slice(half), points.slice(40));
    await writer.writeRecords(spans.slice(half - 50, half + 50), []);
    clickhouse = new ClickHouseAnalysisSource(client, { database: 'otel', requestService: 'recommendation-service', experimentKeys: experiments.map((e) => e.baggageKey) }, false);
  });
  afterAll(async () => {
    await clickhouse?.close();
    await client?.close();
    await sqlite?.close();
  });

  it.each<[string, AnalysisWindow]>([
    ['everything', { fromMs: 0, toMs: Number.POSITIVE_INFINITY }],
    ['a window that cuts minutes', { fromMs: START_MS + 2 * MINUTE_MS + 30_000, toMs: START_MS + 7 * MINUTE_MS + 1 }],
    ['one cohort', { fromMs: 0, toMs: Number.POSITIVE_INFINITY, cohort: 'guest' }],
  ])('%s: the same downstream buckets, cache figures, metric totals and histograms', async (_name, window) => {
    const expected = rolledUp(await sqlite.read(experiment, window));
    const actual = rolledUp(await clickhouse.read(experiment, window));
    expect(expected.downstream.length).toBeGreaterThan(0);
    expect(actual).toEqual(expected);
  });

  it('counts a span delivered twice once', async () => {
    const data = await clickhouse.read(experiment, { fromMs: 0, toMs: Number.POSITIVE_INFINITY });
    const spans = data.downstream.reduce((sum, group) => sum + group.count, 0);
    // Three downstream spans per iteration; the request service's server spans and the forced visitor's are not downstream.
    expect(spans).toBe(240 * 3);
    const rows = await (await client.query({ query: `SELECT count() AS n FROM otel.variant_lens_downstream_by_key WHERE key = '${KEY}'`, format: 'JSONEachRow' })).json<{ n: string }>();
    expect(Number(rows[0]!.n)).toBeGreaterThan(240 * 3);
  });
});
