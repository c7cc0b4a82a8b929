/**
 * Issue 16: what the collection endpoint acknowledges is kept. Data older than the retention
 * age (finding 13) and metric values no total can hold (the 1.7e308 click-through points)
 * are refused up front, as a partial success naming the reason.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDemo as RunningServer } from '../src/demo/index.js';
import { AnalysisStore } from '../src/store/analysis-store.js';
import { hexId, startTestServer } from './helpers.js';

let server: RunningServer & { dataDir: string };
const HOUR_MS = 3_600_000;

beforeAll(async () => {
  server = await startTestServer({ RETENTION_MAX_AGE_HOURS: '1', RETENTION_INTERVAL_MS: '100' });
});

afterAll(async () => {
  await server.close();
});

const nanos = (ms: number) => `${Math.floor(ms)}000000`;

async function post(signal: 'traces' | 'metrics', body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/v1/${signal}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function span(n: number, startMs: number) {
  return { traceId: hexId(n, 16), spanId: hexId(n, 8), name: 'page.view', kind: 1, startTimeUnixNano: nanos(startMs), endTimeUnixNano: nanos(startMs + 1) };
}

function clickThrough(points: { timeMs: number; value: number; variant: string }[]) {
  return {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'web' } }] },
        scopeMetrics: [
          {
            scope: { name: 's' },
            metrics: [
              {
                name: 'recommendation.click_through',
                sum: {
                  aggregationTemporality: 1,
                  isMonotonic: true,
                  dataPoints: points.map((p, i) => ({
                    startTimeUnixNano: nanos(p.timeMs - 1000 - i),
                    timeUnixNano: nanos(p.timeMs - i),
                    asDouble: p.value,
                    attributes: [{ key: 'experiment.rec_algorithm', value: { stringValue: p.variant } }],
                  })),
                },
              },
            ],
          },
        ],
      },
    ],
  };
}

describe('data older than the retention age', () => {
  it('refuses old spans as a partial success naming the reason, and keeps the fresh ones it acknowledged', async () => {
    const now = Date.now();
    const answer = await post('traces', { resourceSpans: [{ scopeSpans: [{ spans: [span(0x1601, now - 2 * HOUR_MS), span(0x1602, now - 1000)] }] }] });
    expect(answer.status).toBe(200);
    expect(answer.body.partialSuccess).toMatchObject({ rejectedSpans: 1 });
    expect(String((answer.body.partialSuccess as { errorMessage: string }).errorMessage)).toMatch(/older than the retention age of 1 hours/);
    await server.flush();
    expect(server.store.getTrace(hexId(0x1601, 16))).toEqual([]);
    expect(server.store.getTrace(hexId(0x1602, 16))).toHaveLength(1);
  });

  it('refuses old metric points the same way', async () => {
    const now = Date.now();
    const answer = await post('metrics', clickThrough([{ timeMs: now - 3 * HOUR_MS, value: 1, variant: 'control' }, { timeMs: now, value: 1, variant: 'control' }]));
    expect(answer.body.partialSuccess).toMatchObject({ rejectedDataPoints: 1 });
    expect(String((answer.body.partialSuccess as { errorMessage: string }).errorMessage)).toMatch(/older than the retention age/);
  });
});

describe('metric values no total can hold', () => {
  it('refuses click-through points of 1.7e308, so the metric cross-check stays a number', async () => {
    const now = Date.now();
    const answer = await post('metrics', clickThrough([
      { timeMs: now, value: 1.7e308, variant: 'hybrid' },
      { timeMs: now - 5, value: 1.7e308, variant: 'hybrid' },
      { timeMs: now - 10, value: 3, variant: 'hybrid' },
    ]));
    expect(answer.status).toBe(200);
    expect(answer.body.partialSuccess).toMatchObject({ rejectedDataPoints: 2 });
    expect(String((answer.body.partialSuccess as { errorMessage: string }).errorMessage)).toMatch(/value is out of range/);
    await server.flush();
    const analysis = new AnalysisStore(join(server.dataDir, 'telemetry.db'));
    try {
      const totals = analysis.metricSums('recommendation.click_through', 'experiment.rec_algorithm', { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER });
      expect(totals.get('hybrid')).toBe(3);
      expect(JSON.parse(JSON.stringify(Object.fromEntries(totals)))).toMatchObject({ hybrid: 3 });
    } finally {
      analysis.close();
    }
  });
});
