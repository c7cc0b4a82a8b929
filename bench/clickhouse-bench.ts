/**
 * ClickHouse benchmark: the same synthetic telemetry (3 variants, 100,000 users, 7 days;
 * requests with their downstream spans, views, clicks; metric points) written to our SQLite
 * store and, through the endpoint's own path (OTLP encoding → exporter rows → insert), to the
 * exporter's tables on ClickHouse embedded (chdb). Then the full results of one experiment on
 * each backend, side by side, at each size. Sizes: BENCH_CLICKHOUSE_SPANS (default 1M and 10M).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseAnalysisSource } from '../server/src/analysis/clickhouse/clickhouse-analysis-source.js';
import type { AnalysisSource } from '../server/src/analysis/analysis-source.js';
import { SqliteAnalysisSource } from '../server/src/analysis/sqlite-analysis-source.js';
import { openClickHouse } from '../server/src/clickhouse/clickhouse-connection.js';
import { ClickHouseWriter } from '../server/src/clickhouse/clickhouse-writer.js';
import { readExperimentsFile } from '../server/src/config.js';
import { AnalysisService } from '../server/src/services/analysis-service.js';
import { TelemetryStore } from '../server/src/store/telemetry-store.js';
import { generateBatches } from './analysis-bench.js';
import { PROJECT_ROOT, printTable, writeResult } from './bench-lib.js';

const SIZES = (process.env.BENCH_CLICKHOUSE_SPANS ?? '1000000,10000000').split(',').map(Number);
const USERS = 100_000;
const DAYS = 7;
/** Spans per request in the generator: 8 of the service's, about 1.2 from browsers. */
const SPANS_PER_REQUEST = 9.2;
const RUNS = 3;

interface Timing {
  coldMs: number;
  warmMedianMs: number;
}

async function time(source: AnalysisSource): Promise<Timing & { users: number }> {
  const experiments = readExperimentsFile(join(PROJECT_ROOT, 'config/experiments.json')).experiments;
  const analysis = new AnalysisService(source, experiments);
  const times: number[] = [];
  let users = 0;
  for (let run = 0; run < RUNS; run += 1) {
    const started = performance.now();
    const results = await analysis.results(experiments[0]!);
    times.push(performance.now() - started);
    users = results.variants.reduce((sum, v) => sum + v.users, 0);
  }
  await analysis.close();
  const warm = times.slice(1).sort((a, b) => a - b);
  return { coldMs: Math.round(times[0]!), warmMedianMs: Math.round(warm[Math.floor(warm.length / 2)]!), users };
}

export async function runClickHouseBench(): Promise<Record<string, unknown>> {
  const folder = mkdtempSync(join(tmpdir(), 'variant-lens-clickhouse-'));
  // One embedded engine per process: one folder, a database per size.
  const client = openClickHouse({ url: `chdb:${join(folder, 'chdb')}`, database: 'otel' });
  const rows: Record<string, string | number>[] = [];
  try {
    for (const size of SIZES) {
      const database = `otel_${size}`;
      const writer = new ClickHouseWriter(client, database);
      await writer.ensureSchema();
      const path = join(folder, `telemetry-${size}.db`);
      const store = new TelemetryStore({ path });
      let state = 42;
      const random = () => ((state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32);
      const requests = size / SPANS_PER_REQUEST;
      const spacing = BigInt(Math.round((DAYS * 86_400e9) / requests));
      let sqliteMs = 0;
      let clickhouseMs = 0;
      let spans = 0;
      let points = 0;
      for (const batch of generateBatches({ totalSpans: size, totalPoints: size / 10, users: USERS, requestSpacingNs: spacing }, random)) {
        let started = performance.now();
        store.write(batch.spans, batch.points);
        sqliteMs += performance.now() - started;
        started = performance.now();
        await writer.writeRecords(batch.spans, batch.points);
        clickhouseMs += performance.now() - started;
        spans += batch.spans.length;
        points += batch.points.length;
      }
      store.close();
      const sqlite = await time(new SqliteAnalysisSource(path));
      const clickhouse = await time(new ClickHouseAnalysisSource(client, { database, requestService: 'recommendation-service', experimentKeys: ['experiment.rec_algorithm', 'experiment.ranking_boost'] }, false));
      rows.push({
        spans,
        metricPoints: points,
        users: sqlite.users,
        sqliteInsertRowsPerS: Math.round(((spans + points) / sqliteMs) * 1000),
        chdbInsertRowsPerS: Math.round(((spans + points) / clickhouseMs) * 1000),
        sqliteColdMs: sqlite.coldMs,
        sqliteWarmMs: sqlite.warmMedianMs,
        chdbColdMs: clickhouse.coldMs,
        chdbWarmMs: clickhouse.warmMedianMs,
        sqliteOverChdb: Number((sqlite.warmMedianMs / clickhouse.warmMedianMs).toFixed(2)),
      });
      if (clickhouse.users !== sqlite.users) console.warn(`users differ: SQLite ${sqlite.users}, ClickHouse ${clickhouse.users}`);
      printTable(`ClickHouse (chdb) and SQLite, results of rec_algorithm_v3 at ${size.toLocaleString('en-US')} spans`, [rows.at(-1)!]);
    }
  } finally {
    await client.close();
  }
  printTable('ClickHouse (chdb) and SQLite, results of rec_algorithm_v3 (median of warm runs)', rows);
  console.log(`written ${writeResult('clickhouse', { rows })}`);
  return { rows };
}
