/**
 * Issue 16, finding 12: retention must not be turned against the store. Real SQLite files,
 * the real store and job.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { MetricPointRecord, SpanRecord } from '../src/core/telemetry-records.js';
import { RetentionJob } from '../src/services/retention-job.js';
import { TelemetryStore } from '../src/store/telemetry-store.js';
import { hexId, tempDir } from './helpers.js';

const NOW_MS = Date.parse('2026-11-24T00:00:00Z');
const HOUR_NS = 3_600_000_000_000n;

function span(n: number, aheadHours: number, trusted: boolean, attributes: SpanRecord['attributes'] = {}): SpanRecord {
  const start = BigInt(NOW_MS) * 1_000_000n + BigInt(aheadHours) * HOUR_NS + BigInt(n);
  return {
    traceId: hexId(n, 16),
    spanId: hexId(n, 8),
    parentSpanId: null,
    name: trusted ? 'recommendation.request' : 'recommendation.click',
    kind: 2,
    service: trusted ? 'recommendation-service' : 'browser',
    scope: 's',
    startTimeUnixNano: start.toString(),
    endTimeUnixNano: (start + 1_000_000n).toString(),
    statusCode: 0,
    statusMessage: '',
    attributes,
    events: [],
    links: [],
    trusted,
  };
}

function point(n: number, trusted: boolean): MetricPointRecord {
  const time = (BigInt(NOW_MS) * 1_000_000n + BigInt(n)).toString();
  return {
    service: 'web',
    resourceKey: '{}',
    scope: 's',
    name: trusted ? 'recommendation.impressions' : 'recommendation.click_through',
    unit: '',
    kind: 'sum',
    temporality: 1,
    monotonic: true,
    attributes: { 'experiment.rec_algorithm': 'hybrid', n },
    startTimeUnixNano: time,
    timeUnixNano: time,
    value: 1,
    count: null,
    sum: null,
    bucketCounts: null,
    explicitBounds: null,
    trusted,
  };
}

let store: TelemetryStore | undefined;
afterEach(() => store?.close());

function count(path: string, sql: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).pluck().get() as number;
  } finally {
    db.close();
  }
}

describe('retention by count', () => {
  it('never evicts the server\'s own spans for a flood of browser spans dated ahead, and evicts by arrival', async () => {
    const path = join(tempDir('retention'), 't.db');
    store = new TelemetryStore({ path, isExperimentKey: (k) => k === 'experiment.rec_algorithm' });
    // 300 served requests, then 2,000 browser spans dated 23 hours ahead (the clock bound allows a day).
    store.addSpans(Array.from({ length: 300 }, (_, i) => span(i + 1, 0, true, { 'experiment.rec_algorithm': 'hybrid', 'user.id': `u${i}`, 'recommendation.request_id': `r${i}` })));
    store.addSpans(Array.from({ length: 2_000 }, (_, i) => span(10_000 + i, 23, false, { 'recommendation.request_id': `nowhere-${i}`, 'content.id': 'c' })));
    await new RetentionJob(store, { maxAgeMs: 0, maxSpans: 1_000, maxPoints: 0, intervalMs: 1000 }).runOnce(NOW_MS);
    expect(store.spanCount()).toBe(1_000);
    expect(count(path, 'SELECT count(*) FROM spans WHERE trusted = 1')).toBe(300);
    expect(count(path, 'SELECT count(*) FROM experiment_requests')).toBe(300);
    // The browser spans kept are the latest to arrive.
    expect(count(path, 'SELECT min(span_id) FROM spans WHERE trusted = 0')).toBe(hexId(10_000 + 1_300, 8) as unknown as number);
    // Browser events waiting for their request go with their spans.
    expect(count(path, 'SELECT count(*) FROM unmatched_events')).toBeLessThanOrEqual(700);
  });

  it('removes everything beyond the limit in one pass, however far ingest got ahead', async () => {
    const path = join(tempDir('retention-catch-up'), 't.db');
    store = new TelemetryStore({ path });
    const total = 130_000;
    for (let first = 0; first < total; first += 10_000) store.addSpans(Array.from({ length: 10_000 }, (_, i) => span(first + i + 1, 0, false)));
    const deleted = await new RetentionJob(store, { maxAgeMs: 0, maxSpans: 10_000, maxPoints: 0, intervalMs: 1000 }).runOnce(NOW_MS);
    expect(deleted).toBe(total - 10_000);
    expect(store.spanCount()).toBe(10_000);
  }, 60_000);
});

describe('retention of metric points', () => {
  it('bounds metric points by count, the browser\'s first', async () => {
    const path = join(tempDir('retention-points'), 't.db');
    store = new TelemetryStore({ path });
    store.addMetricPoints(Array.from({ length: 100 }, (_, i) => point(i, true)));
    store.addMetricPoints(Array.from({ length: 900 }, (_, i) => point(1000 + i, false)));
    await new RetentionJob(store, { maxAgeMs: 0, maxSpans: 0, maxPoints: 500, intervalMs: 1000 }).runOnce(NOW_MS);
    expect(count(path, 'SELECT count(*) FROM metric_points')).toBe(500);
    expect(count(path, 'SELECT count(*) FROM metric_points WHERE trusted = 1')).toBe(100);
  });
});
