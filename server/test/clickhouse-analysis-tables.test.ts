/** The DDL the README points a team to (`docs/clickhouse-analysis-tables.sql`) is what the analysis runs. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analysisDdl, ensureAnalysisTables } from '../src/analysis/clickhouse/analysis-tables.js';
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
