/**
 * Browser-reported click-through points are summed per minute and variant (the metric rollup),
 * which retention trims by age only. A browser names the attributes of its points: in the
 * review (session 14), 400 points with 128 made-up `experiment.*` keys and 500-character values
 * each made 51,200 rollup rows (37 MB) that stayed for 30 days whatever the count limits. Only
 * the variants the experiments have are rolled up from untrusted points: nothing else is read.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startServer, type RunningServer } from '../src/server.js';
import { TEST_READ_TOKEN, tempDir } from './helpers.js';

let server: RunningServer;
let dataDir: string;

beforeAll(async () => {
  dataDir = tempDir('untrusted-rollups');
  server = await startServer(
    loadConfig({ PORT: '0', DATA_DIR: dataDir, EXPERIMENTS_FILE: 'config/experiments.json', METRIC_INTERVAL_MS: '100000', READ_TOKEN: TEST_READ_TOKEN, RETENTION_MAX_AGE_HOURS: '0', OTEL_SDK_DISABLED: 'true' }, { demo: false }),
  );
});

afterAll(async () => {
  await server.close();
});

function clickThrough(points: Record<string, string>[]): string {
  const now = BigInt(Date.now()) * 1_000_000n;
  return JSON.stringify({
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'content-site' } }] },
        scopeMetrics: [
          {
            scope: { name: 'variant-lens-sdk' },
            metrics: [
              {
                name: 'recommendation.click_through',
                sum: {
                  aggregationTemporality: 1,
                  isMonotonic: true,
                  dataPoints: points.map((attributes) => ({
                    attributes: Object.entries(attributes).map(([key, value]) => ({ key, value: { stringValue: value } })),
                    startTimeUnixNano: String(now - 1_000_000_000n),
                    timeUnixNano: String(now),
                    asDouble: 1,
                  })),
                },
              },
            ],
          },
        ],
      },
    ],
  });
}

describe('click-through points from browsers', () => {
  it('roll up only the variants the experiments have, whatever keys and values a browser makes up', async () => {
    const madeUp = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`experiment.k${i}_${'x'.repeat(200)}`, 'v'.repeat(500)]));
    const points = [
      { 'experiment.rec_algorithm': 'hybrid' },
      { 'experiment.rec_algorithm': 'hybrid', 'experiment.ranking_boost': 'recency_boost' },
      { 'experiment.rec_algorithm': `not-a-variant-${'v'.repeat(400)}` },
      madeUp,
    ];
    const response = await fetch(`${server.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: clickThrough(points) });
    expect(response.status).toBe(200);
    await server.ingestPool.drain();
    const db = new Database(join(dataDir, 'telemetry.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT key, variant, total FROM metric_rollup ORDER BY key, variant').all();
      expect(rows).toEqual([
        { key: 'experiment.ranking_boost', variant: 'recency_boost', total: 1 },
        { key: 'experiment.rec_algorithm', variant: 'hybrid', total: 2 },
      ]);
    } finally {
      db.close();
    }
  });
});
