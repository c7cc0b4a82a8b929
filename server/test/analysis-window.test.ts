/**
 * Issue 17 §3: a time window selects users by their first exposure and counts their later
 * activity inside the window. Selecting by activity in the window would keep a user first
 * exposed before it only when active in it, which depends on the treatment.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SpanRecord } from '../src/core/telemetry-records.js';
import { AnalysisStore } from '../src/store/analysis-store.js';
import { TelemetryStore } from '../src/store/telemetry-store.js';
import { hexId, tempDir } from './helpers.js';

const KEY = 'experiment.rec_algorithm';
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 10, 20);
let n = 0;

function request(user: string, variant: string, atMs: number): SpanRecord {
  n += 1;
  const nanos = (BigInt(atMs) * 1_000_000n).toString();
  return {
    traceId: hexId(n, 16),
    spanId: hexId(n, 8),
    parentSpanId: null,
    name: 'recommendation.request',
    kind: 1,
    service: 'recommendation-service',
    scope: 'test',
    startTimeUnixNano: nanos,
    endTimeUnixNano: nanos,
    statusCode: 0,
    statusMessage: '',
    attributes: { [KEY]: variant, 'user.id': user, 'recommendation.request_id': `req-${n}`, 'recommendation.count': 4 },
    events: [],
    links: [],
    trusted: true,
  };
}

describe('the analysis window', () => {
  it('takes users by their first exposure and counts their activity up to the window end', () => {
    const path = join(tempDir('window'), 't.db');
    const store = new TelemetryStore({ path, isExperimentKey: (k) => k === KEY });
    store.addSpans([
      // early: first exposed before the window, active in it and after it
      request('early', 'control', T0),
      request('early', 'control', T0 + 5 * HOUR),
      // inside: first exposed in the window, once more in it and once after it
      request('inside', 'hybrid', T0 + 2 * HOUR),
      request('inside', 'hybrid', T0 + 3 * HOUR),
      request('inside', 'hybrid', T0 + 30 * HOUR),
      // quiet: first exposed in the window and never again
      request('quiet', 'control', T0 + 4 * HOUR),
      // late: first exposed after the window
      request('late', 'collaborative', T0 + 40 * HOUR),
    ]);
    store.close();
    const analysis = new AnalysisStore(path);
    try {
      const rows = analysis.users(KEY, { fromMs: T0 + HOUR, toMs: T0 + 24 * HOUR });
      const byUser = Object.fromEntries(rows.map((r) => [r.user, r.requests]));
      expect(byUser).toEqual({ inside: 2, quiet: 1 });
      const all = analysis.users(KEY, { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER });
      expect(Object.fromEntries(all.map((r) => [r.user, r.requests]))).toEqual({ early: 2, inside: 3, quiet: 1, late: 1 });
    } finally {
      analysis.close();
    }
  });
});
