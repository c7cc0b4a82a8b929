import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { SpanRecord } from '../src/core/telemetry-records.js';
import { RetentionJob } from '../src/services/retention-job.js';
import { SEGMENT_ROWS } from '../src/core/trace-bloom.js';
import { TelemetryStore } from '../src/store/telemetry-store.js';
import { TELEMETRY_MIGRATIONS } from '../src/store/telemetry-schema.js';
import type { MetricPointRecord } from '../src/core/telemetry-records.js';
import { hexId, tempDir } from './helpers.js';

const DAY_NS = 86_400_000_000_000n;
const NOW_MS = Date.parse('2026-11-24T00:00:00Z');

function span(n: number, ageDays: number, attributes: SpanRecord['attributes'] = {}, trusted = true): SpanRecord {
  const start = BigInt(NOW_MS) * 1_000_000n - BigInt(ageDays) * DAY_NS;
  return {
    traceId: hexId(n, 16),
    spanId: hexId(n, 8),
    parentSpanId: null,
    name: 'recommendation.request',
    kind: 1,
    service: 'test',
    scope: 's',
    startTimeUnixNano: start.toString(),
    endTimeUnixNano: (start + 5_000_000n).toString(),
    statusCode: 0,
    statusMessage: '',
    attributes,
    events: [],
    links: [],
    trusted,
  };
}

let store: TelemetryStore | undefined;
afterEach(() => store?.close());

describe('TelemetryStore', () => {
  it('takes variants and the visitor from trusted spans only', () => {
    const dir = tempDir('store');
    store = new TelemetryStore({ path: join(dir, 't.db'), isExperimentKey: (k) => k === 'experiment.rec_algorithm' });
    const served = { 'experiment.rec_algorithm': 'hybrid', 'experiment.other': 'x', 'user.id': 'alice', 'recommendation.request_id': 'req-a' };
    store.addSpans([
      span(1, 0, served),
      span(2, 0, { 'experiment.rec_algorithm': 'control', 'user.id': 'mallory', 'recommendation.request_id': 'req-m' }, false),
    ]);
    store.close();
    store = undefined;
    const db = new Database(join(dir, 't.db'), { readonly: true });
    // Only the trusted request is a served request, with its allow-listed variant; the browser's
    // claim stays in its JSON only.
    expect(db.prepare('SELECT key, variant, user_id, request_id FROM experiment_requests').all()).toEqual([
      { key: 'experiment.rec_algorithm', variant: 'hybrid', user_id: 'alice', request_id: 'req-a' },
    ]);
    expect(db.prepare('SELECT span_id, user_id FROM spans ORDER BY span_id').all()).toEqual([
      { span_id: hexId(1, 8), user_id: 'alice' },
      { span_id: hexId(2, 8), user_id: null },
    ]);
    expect(db.pragma('user_version', { simple: true })).toBe(TELEMETRY_MIGRATIONS.at(-1)!.version);
    db.close();
  });

  it('migrates a version-1 file forward without losing its spans', () => {
    const path = join(tempDir('migrate'), 't.db');
    const v1 = new Database(path);
    v1.exec(`CREATE TABLE spans (id INTEGER PRIMARY KEY, trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_span_id TEXT,
      name TEXT NOT NULL, kind INTEGER NOT NULL, service TEXT NOT NULL, scope TEXT NOT NULL, start_ns TEXT NOT NULL,
      end_ns TEXT NOT NULL, start_ms REAL NOT NULL, duration_ms REAL NOT NULL, status_code INTEGER NOT NULL,
      status_message TEXT NOT NULL, trusted INTEGER NOT NULL, request_id TEXT, attributes TEXT NOT NULL,
      events TEXT NOT NULL, links TEXT NOT NULL, UNIQUE (trace_id, span_id));
      CREATE TABLE metric_points (id INTEGER PRIMARY KEY, service TEXT NOT NULL, scope TEXT NOT NULL, name TEXT NOT NULL,
      unit TEXT NOT NULL, kind TEXT NOT NULL, temporality INTEGER NOT NULL, monotonic INTEGER NOT NULL, attributes TEXT NOT NULL,
      start_ns TEXT NOT NULL, time_ns TEXT NOT NULL, time_ms REAL NOT NULL, value REAL, count REAL, sum REAL,
      bucket_counts TEXT, explicit_bounds TEXT, trusted INTEGER NOT NULL);
      INSERT INTO spans VALUES (1, '${hexId(9, 16)}', '${hexId(9, 8)}', NULL, 'old', 1, 's', 's', '1000000', '2000000', 1, 1, 0, '', 1, NULL, '{}', '[]', '[]');
      INSERT INTO spans VALUES (2, '${hexId(8, 16)}', '${hexId(8, 8)}', NULL, 'recommendation.view', 1, 's', 's', '1000000', '2000000', 1, 1, 0, '', 0, 'req-early', '{"recommendation.request_id":"req-early"}', '[]', '[]');
      PRAGMA user_version = 1;`);
    v1.close();
    store = new TelemetryStore({ path, isExperimentKey: (k) => k === 'experiment.rec_algorithm' });
    expect(store.getTrace(hexId(9, 16)).map((s) => s.name)).toEqual(['old']);
    expect(store.findSpans({ requestId: 'req-early' }).map((s) => s.name)).toEqual(['recommendation.view']);
    store.addSpans([span(10, 0, { 'experiment.rec_algorithm': 'hybrid', 'user.id': 'ann', 'recommendation.request_id': 'req-early' })]);
    expect(store.spanCount()).toBe(3);
    // A span stored before the migration is still recognised when it is sent again.
    expect(store.addSpans([{ ...span(9, 0), name: 'old', startTimeUnixNano: '1000000', endTimeUnixNano: '2000000' }])).toBe(0);
    expect(store.spanCount()).toBe(3);
    // The view that came before the upgrade, and before its request, counts for the request.
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT request_id, browser_events FROM experiment_requests').all()).toEqual([{ request_id: 'req-early', browser_events: 1 }]);
    db.close();
  });

  it('keeps sequential and low-entropy ids apart, and stores a repeated one once', () => {
    store = new TelemetryStore({ path: join(tempDir('ids'), 't.db') });
    // Ids that differ only in their last digits, or share a trace: none may be taken for another.
    const spans = Array.from({ length: 20_000 }, (_, n) => ({ ...span(n % 2_000, 0), spanId: hexId(n, 8) }));
    expect(store.addSpans(spans)).toBe(20_000);
    expect(store.addSpans(spans.slice(0, 500))).toBe(0);
    expect(store.getTrace(hexId(7, 16)).map((s) => s.spanId)).toEqual(Array.from({ length: 10 }, (_, k) => hexId(7 + k * 2_000, 8)));
  });

  it('finds a request\'s spans and a trace\'s spans in any segment, newest first, and forgets emptied segments', async () => {
    const path = join(tempDir('segments'), 't.db');
    store = new TelemetryStore({ path });
    // Three segments and more; every 1,000th span names request "req-x", the rest other requests.
    const spans = Array.from({ length: 3 * SEGMENT_ROWS + 100 }, (_, n) => ({
      ...span(n, 0, { 'recommendation.request_id': n % 1_000 === 0 ? 'req-x' : `req-${n}` }, false),
      name: n % 2 === 0 ? 'recommendation.view' : 'recommendation.click',
      startTimeUnixNano: (BigInt(NOW_MS + n) * 1_000_000n).toString(),
    }));
    expect(store.addSpans(spans)).toBe(spans.length);
    const expected = spans.filter((_, n) => n % 1_000 === 0).map((s) => s.spanId).reverse();
    expect(store.findSpans({ requestId: 'req-x' }).map((s) => s.spanId)).toEqual(expected);
    expect(store.findSpans({ requestId: 'req-x', name: 'recommendation.view', limit: 2 }).map((s) => s.spanId)).toEqual(expected.slice(0, 2));
    expect(store.findSpans({ requestId: 'req-none' })).toEqual([]);
    expect(store.findSpans({ name: 'recommendation.click', limit: 3 }).map((s) => s.spanId)).toEqual(
      [spans.length - 1, spans.length - 3, spans.length - 5].map((n) => hexId(n, 8)),
    );
    expect(store.getTrace(hexId(3 * SEGMENT_ROWS + 7, 16)).map((s) => s.spanId)).toEqual([hexId(3 * SEGMENT_ROWS + 7, 8)]);
    // Retention by count empties the first segments: their filters go with their rows.
    await new RetentionJob(store, { maxAgeMs: 0, maxSpans: 50, intervalMs: 1000 }).runOnce(NOW_MS);
    while (store.spanCount() > 50) await new RetentionJob(store, { maxAgeMs: 0, maxSpans: 50, intervalMs: 1000 }).runOnce(NOW_MS);
    expect(store.getTrace(hexId(0, 16))).toEqual([]);
    expect(store.findSpans({ requestId: 'req-x' })).toEqual([]);
    expect(store.getTrace(hexId(spans.length - 1, 16))).toHaveLength(1);
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT segment FROM span_blooms').pluck().all()).toEqual([3]);
    db.close();
  });

  it('reads back empty and non-empty status messages, events and links as they were written, through both insert paths', () => {
    const path = join(tempDir('defaults'), 't.db');
    store = new TelemetryStore({ path });
    const full = {
      statusCode: 2,
      statusMessage: 'feature store down',
      events: [{ name: 'exception', timeUnixNano: '1', attributes: { 'exception.message': 'boom' } }],
      links: [{ traceId: hexId(99, 16), spanId: hexId(99, 8), attributes: {} }],
    };
    // 60 browser spans go 50 to a statement, then one by one; the trusted one goes alone.
    const browser = Array.from({ length: 60 }, (_, n) => ({ ...span(100 + n, 0, {}, false), ...(n % 2 === 0 ? full : {}) }));
    store.addSpans([...browser, span(1, 0), { ...span(2, 0), ...full }]);
    for (const [n, written] of [...browser.map((s, n) => [100 + n, s] as const), [1, span(1, 0)] as const, [2, { ...span(2, 0), ...full }] as const]) {
      const [read] = store.getTrace(hexId(n, 16));
      expect({ status: read!.status, events: read!.events, links: read!.links }).toEqual({
        status: { code: written.statusCode, message: written.statusMessage },
        events: written.events,
        links: written.links,
      });
    }
  });

  it('retention deletes by age and by count, oldest first, experiment rows included', async () => {
    const path = join(tempDir('retention'), 't.db');
    store = new TelemetryStore({ path });
    store.addSpans([
      span(1, 40, { 'experiment.rec_algorithm': 'hybrid', 'user.id': 'u1', 'recommendation.request_id': 'req-old' }),
      span(2, 35),
      span(3, 10),
      span(4, 5),
      span(5, 1),
    ]);
    const requestsStored = () => {
      const db = new Database(path, { readonly: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM experiment_requests').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    // The old request's analysis row exists before, so its going with the span is shown.
    expect(requestsStored()).toBe(1);
    const byAge = new RetentionJob(store, { maxAgeMs: 30 * 86_400_000, maxSpans: 0, intervalMs: 1000 });
    expect(await byAge.runOnce(NOW_MS)).toBe(2);
    expect(store.getTrace(hexId(1, 16))).toEqual([]);
    expect(store.getTrace(hexId(3, 16))).toHaveLength(1);
    const byCount = new RetentionJob(store, { maxAgeMs: 0, maxSpans: 2, intervalMs: 1000 });
    expect(await byCount.runOnce(NOW_MS)).toBe(1);
    expect(store.getTrace(hexId(3, 16))).toEqual([]);
    expect(store.spanCount()).toBe(2);
    expect(requestsStored()).toBe(0);
  });
});

describe('row counts for retention', () => {
  const point = (n: number, trusted: boolean): MetricPointRecord => ({
    service: 'test',
    resourceKey: '{}',
    scope: 's',
    name: 'm',
    unit: '1',
    kind: 'sum',
    temporality: 1,
    monotonic: true,
    attributes: { n },
    startTimeUnixNano: String(BigInt(NOW_MS - 1000) * 1_000_000n),
    timeUnixNano: String(BigInt(NOW_MS) * 1_000_000n),
    value: 1,
    count: null,
    sum: null,
    bucketCounts: null,
    explicitBounds: null,
    trusted,
  });

  it('stay exact through retried writes and every kind of deletion', async () => {
    const path = join(tempDir('counts'), 't.db');
    store = new TelemetryStore({ path });
    const exact = () => {
      const db = new Database(path, { readonly: true });
      try {
        return [db.prepare('SELECT count(*) FROM spans').pluck().get(), db.prepare('SELECT count(*) FROM metric_points').pluck().get()];
      } finally {
        db.close();
      }
    };
    const spans = Array.from({ length: 120 }, (_, i) => span(i + 1, i % 3 === 0 ? 40 : 1, {}, i % 2 === 0));
    store.write(spans, Array.from({ length: 30 }, (_, i) => point(i, i % 2 === 0)));
    // A retry of the same batch adds nothing.
    store.write(spans.slice(0, 60), Array.from({ length: 10 }, (_, i) => point(i, i % 2 === 0)));
    expect(store.spanCount()).toBe(120);
    expect([store.spanCount(), store.pointsBeyond(0)]).toEqual(exact());
    await new RetentionJob(store, { maxAgeMs: 30 * 86_400_000, maxSpans: 50, maxPoints: 7, intervalMs: 1000 }).runOnce(NOW_MS);
    expect(store.spanCount()).toBe(50);
    expect(store.spansBeyond(0)).toBe(50);
    expect(store.pointsBeyond(0)).toBe(7);
    expect([store.spanCount(), store.pointsBeyond(0)]).toEqual(exact());
    store.deleteOlderThan(NOW_MS + 86_400_000, 1000);
    expect([store.spanCount(), store.pointsBeyond(0)]).toEqual([0, 0]);
    expect(exact()).toEqual([0, 0]);
  });

  it('are read in constant time: spansBeyond does not walk the table (it ran count(*) on the main thread)', () => {
    // The first read on a fresh connection (a cold page cache, as after a restart or once ingest
    // has pushed the index out): count(*) reads every page of an index, the counter one row.
    const firstRead = (path: string) => {
      const fresh = new TelemetryStore({ path });
      try {
        const started = performance.now();
        fresh.spansBeyond(10);
        fresh.pointsBeyond(10);
        return performance.now() - started;
      } finally {
        fresh.close();
      }
    };
    const path = join(tempDir('count-time'), 't.db');
    store = new TelemetryStore({ path });
    const BATCH = 20_000;
    for (let b = 0; b < 10; b += 1) store.write(Array.from({ length: BATCH }, (_, i) => span(b * BATCH + i + 1, 0, {}, false)), []);
    expect(store.spanCount()).toBe(10 * BATCH);
    const reads = Array.from({ length: 5 }, () => firstRead(path)).sort((a, b) => a - b);
    console.log(`spansBeyond + pointsBeyond at ${10 * BATCH} spans, first read on a fresh connection: median ${reads[2]!.toFixed(3)} ms`);
    expect(reads[2]).toBeLessThan(5);
  }, 120_000);
});

describe('browser events that arrive before their request', () => {
  it('count for the request once it is stored, and are no longer rejected', async () => {
    const { AnalysisStore } = await import('../src/store/analysis-store.js');
    const path = join(tempDir('order'), 't.db');
    store = new TelemetryStore({ path, isExperimentKey: (k) => k === 'experiment.rec_algorithm' });
    const click = (n: number) => span(n, 0, { 'recommendation.request_id': 'req-early', 'content.id': 'a00001', 'experiment.rec_algorithm': 'hybrid' }, false);
    store.addSpans([{ ...click(20), name: 'recommendation.click' }, { ...click(21), name: 'recommendation.click' }, { ...click(22), name: 'recommendation.view' }]);
    const window = { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER };
    const analysis = new AnalysisStore(path);
    try {
      expect(analysis.unknownRequestClicks('experiment.rec_algorithm', window)).toEqual({ hybrid: 2 });
      store.addSpans([span(23, 0, { 'experiment.rec_algorithm': 'hybrid', 'user.id': 'ann', 'recommendation.request_id': 'req-early', 'recommendation.count': 8 })]);
      expect(analysis.unknownRequestClicks('experiment.rec_algorithm', window)).toEqual({});
      // Two clicks on the same content count once; the view shows the list was delivered.
      expect(analysis.users('experiment.rec_algorithm', window)).toEqual([
        { variant: 'hybrid', user: 'ann', requests: 1, impressions: 8, errors: 0, clicks: 1, reported: 1, mismatched: 0, invalid: 0, durationMsSum: 5, durationsMs: [5], firstExposureMs: 1795478400000, cacheHits: 0, cacheLookups: 0 },
      ]);
    } finally {
      analysis.close();
    }
  });

  it('all count when a batch holds more of them than one multi-row statement takes', async () => {
    const { AnalysisStore } = await import('../src/store/analysis-store.js');
    const path = join(tempDir('many-early'), 't.db');
    store = new TelemetryStore({ path, isExperimentKey: (k) => k === 'experiment.rec_algorithm' });
    // 123 views and 7 clicks on distinct content, for two requests not yet stored: two full
    // chunks of 50 and a remainder written row by row.
    const early = Array.from({ length: 130 }, (_, i) => ({
      ...span(100 + i, 0, { 'recommendation.request_id': i % 2 === 0 ? 'req-a' : 'req-b', 'content.id': `a${i}` }, false),
      name: i < 123 ? 'recommendation.view' : 'recommendation.click',
    }));
    store.addSpans(early);
    const served = (n: number, requestId: string) => span(n, 0, { 'experiment.rec_algorithm': 'hybrid', 'user.id': requestId, 'recommendation.request_id': requestId, 'recommendation.count': 8 });
    store.addSpans([served(1, 'req-a'), served(2, 'req-b')]);
    const analysis = new AnalysisStore(path);
    try {
      const users = analysis.users('experiment.rec_algorithm', { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER });
      expect(users.map((u) => [u.user, u.reported, u.clicks])).toEqual([
        ['req-a', 1, 3],
        ['req-b', 1, 4],
      ]);
    } finally {
      analysis.close();
    }
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT request_id, browser_events FROM experiment_requests ORDER BY request_id').all()).toEqual([
      { request_id: 'req-a', browser_events: 65 },
      { request_id: 'req-b', browser_events: 65 },
    ]);
    expect(db.prepare('SELECT count(*) AS n FROM unmatched_events').get()).toEqual({ n: 0 });
    db.close();
  });
});
