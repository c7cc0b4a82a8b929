/** The DDL the README points a team to (`docs/clickhouse-analysis-tables.sql`) is what the analysis runs. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { analysisDdl, ANALYSIS_TABLES, ensureAnalysisTables } from '../src/analysis/clickhouse/analysis-tables.js';
import { openClickHouse } from '../src/clickhouse/clickhouse-connection.js';
import { ClickHouseWriter } from '../src/clickhouse/clickhouse-writer.js';
import { tempDir } from './helpers.js';

describe('docs/clickhouse-analysis-tables.sql', () => {
  it('holds exactly the statements analysisDdl runs, for the exporter default database otel', () => {
    const file = readFileSync(join(import.meta.dirname, '../../docs/clickhouse-analysis-tables.sql'), 'utf8');
    const statements = file
      .split('\n')
      .filter((line) => !line.startsWith('--'))
      .join('\n')
      .split(';')
      .map((s) => s.trim())
      .filter(Boolean);
    expect(statements).toEqual(analysisDdl('otel').map((s) => s.trim()));
  });
});

describe('ensureAnalysisTables', () => {
  it('drops the downstream view an earlier version created, so that it stops costing every insert', async () => {
    const client = openClickHouse({ url: `chdb:${tempDir('chdb-retired')}`, database: 'otel' });
    try {
      await new ClickHouseWriter(client, 'otel').ensureSchema();
      await client.command({ query: 'CREATE TABLE otel.variant_lens_downstream_spans (span_key UInt64) ENGINE = MergeTree ORDER BY span_key' });
      await client.command({
        query: 'CREATE MATERIALIZED VIEW otel.variant_lens_downstream_spans_mv TO otel.variant_lens_downstream_spans AS SELECT cityHash64(SpanId) AS span_key FROM otel.otel_traces',
      });
      await ensureAnalysisTables(client, 'otel');
      const tables = await (await client.query({ query: `SELECT name FROM system.tables WHERE database = 'otel' AND name LIKE 'variant_lens%' ORDER BY name`, format: 'JSONEachRow' })).json<{ name: string }>();
      expect(tables.map((t) => t.name)).toEqual([
        'variant_lens_browser_events',
        'variant_lens_browser_events_mv',
        'variant_lens_downstream_by_key',
        'variant_lens_downstream_by_key_mv',
        'variant_lens_metric_histograms',
        'variant_lens_metric_histograms_mv',
        'variant_lens_metric_sums',
        'variant_lens_metric_sums_mv',
        'variant_lens_served_requests',
        'variant_lens_served_requests_mv',
      ]);
    } finally {
      await client.close();
    }
  });
});

/** A client whose queries wait, once the first that names `table` has been answered, until `resume` settles. */
function pausedAfterFirst(client: ClickHouseClient, table: string, resume: Promise<unknown>): { client: ClickHouseClient; paused: Promise<void> } {
  let reached!: () => void;
  const paused = new Promise<void>((resolve) => (reached = resolve));
  let seen = false;
  const hold = async <T>(query: string, run: () => Promise<T>): Promise<T> => {
    const result = await run();
    if (!seen && query.includes(table)) {
      seen = true;
      reached();
      await resume;
    }
    return result;
  };
  const wrapped = Object.create(client) as ClickHouseClient;
  wrapped.command = (params) => hold(params.query, () => client.command(params));
  wrapped.query = ((params: { query: string }) => hold(params.query, () => client.query(params as never))) as ClickHouseClient['query'];
  return { client: wrapped, paused };
}

/** Delta points stored before the analysis tables existed: 5 impressions, one latency histogram. */
async function writeHistory(writer: ClickHouseWriter): Promise<void> {
  const now = BigInt(Date.now()) * 1_000_000n;
  const times = { startTimeUnixNano: String(now - 1_000_000_000n), timeUnixNano: String(now) };
  const attributes = [{ key: 'experiment.rec_algorithm', value: { stringValue: 'hybrid' } }];
  await writer.writeMetrics({
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'recs' } }] },
        scopeMetrics: [
          {
            metrics: [
              { name: 'recommendation.impressions', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [{ attributes, asInt: '5', ...times }] } },
              { name: 'recommendation.latency', histogram: { aggregationTemporality: 1, dataPoints: [{ attributes, count: '3', sum: 30, bucketCounts: ['1', '2'], explicitBounds: [10], ...times }] } },
            ],
          },
        ],
      },
    ],
  });
}

describe('ensureAnalysisTables run by two replicas at once on a database with history', () => {
  // The second replica stops after its first query about the table, or about its view.
  const cases = [ANALYSIS_TABLES.metricSums, ANALYSIS_TABLES.metricHistograms].flatMap((table) => [table, `${table}_mv`]);
  it.each(cases)(
    'fills the table once when one replica is held after its first query naming %s: the points stored before count once',
    async (table) => {
      const client = openClickHouse({ url: `chdb:${tempDir('chdb-two-replicas')}`, database: 'otel' });
      try {
        const writer = new ClickHouseWriter(client, 'otel');
        await writeHistory(writer);
        // The second replica has asked about the table when the first runs through; then it goes on.
        let firstDone!: () => void;
        const second = pausedAfterFirst(client, table, new Promise<void>((resolve) => (firstDone = resolve)));
        const running = ensureAnalysisTables(second.client, 'otel');
        await second.paused;
        await ensureAnalysisTables(client, 'otel');
        firstDone();
        await running;
        const [rolled] = await (
          await client.query({
            query: `SELECT (SELECT sum(total) FROM otel.${ANALYSIS_TABLES.metricSums} WHERE name = 'recommendation.impressions') AS impressions,
              (SELECT sum(points) FROM otel.${ANALYSIS_TABLES.metricHistograms} WHERE name = 'recommendation.latency') AS histograms`,
            format: 'JSONEachRow',
          })
        ).json<{ impressions: number | string; histograms: number | string }>();
        expect({ impressions: Number(rolled!.impressions), histograms: Number(rolled!.histograms) }).toEqual({ impressions: 5, histograms: 1 });
      } finally {
        await client.close();
      }
    },
  );
});

describe('ensureAnalysisTables when filling a table fails', () => {
  it('drops the view again, and the next read fills the table whole and once', async () => {
    const client = openClickHouse({ url: `chdb:${tempDir('chdb-failed-fill')}`, database: 'otel' });
    try {
      await writeHistory(new ClickHouseWriter(client, 'otel'));
      // The fill of the sums runs, and its answer is lost (a timeout, a reset connection).
      const failing = Object.create(client) as ClickHouseClient;
      failing.command = async (params) => {
        const result = await client.command(params);
        if (params.query.startsWith(`INSERT INTO \`otel\`.${ANALYSIS_TABLES.metricSums} `)) throw new Error('socket hang up');
        return result;
      };
      await expect(ensureAnalysisTables(failing, 'otel')).rejects.toThrow('socket hang up');
      const views = async () =>
        (await (await client.query({ query: `SELECT name FROM system.tables WHERE database = 'otel' AND name LIKE '%_mv' ORDER BY name`, format: 'JSONEachRow' })).json<{ name: string }>()).map((t) => t.name);
      expect(await views()).not.toContain(`${ANALYSIS_TABLES.metricSums}_mv`);
      await ensureAnalysisTables(client, 'otel');
      expect(await views()).toContain(`${ANALYSIS_TABLES.metricSums}_mv`);
      const [rolled] = await (await client.query({ query: `SELECT sum(total) AS impressions FROM otel.${ANALYSIS_TABLES.metricSums} WHERE name = 'recommendation.impressions'`, format: 'JSONEachRow' })).json<{ impressions: number | string }>();
      expect(Number(rolled!.impressions)).toBe(5);
    } finally {
      await client.close();
    }
  });
});
