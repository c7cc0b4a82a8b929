/**
 * ClickHouse benchmark: the same synthetic telemetry (3 variants, 100,000 users, 7 days;
 * requests with their downstream spans, views, clicks; metric points) written to our SQLite
 * store and to the exporter's tables on ClickHouse embedded (chdb) — the rows the endpoint's path
 * writes (OTLP encoding → exporter rows), mapped straight from the records and checked against
 * that path — whose materialized views fill the analysis tables as the rows arrive. Then the full
 * results of one experiment on each backend, side by side, at each size.
 *
 * Settings (environment):
 * - BENCH_CLICKHOUSE_SPANS: sizes, comma-separated (default `1000000,10000000`; e.g. `200000`
 *   for a quick run).
 * - BENCH_CLICKHOUSE_DIR: where the data is kept (default a fresh temporary folder). A size
 *   already filled there (its `fill-*.json` written) is reused, not generated again, so the
 *   two backends can be filled by separate runs and timed again later.
 * - BENCH_CLICKHOUSE_BACKENDS: `sqlite`, `clickhouse` or both (default both); a run with one
 *   fills and times only that one (a chdb folder serves one process at a time).
 * - BENCH_CLICKHOUSE_RUNS: reads per backend and size (default 5), the first cold; the table
 *   gives the median of the warm ones. The backends take turns, read by read, so that a change of
 *   load on the machine during a run meets both.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { ensureAnalysisTables } from '../server/src/analysis/clickhouse/analysis-tables.js';
import { ClickHouseAnalysisSource } from '../server/src/analysis/clickhouse/clickhouse-analysis-source.js';
import type { AnalysisSource } from '../server/src/analysis/analysis-source.js';
import { SqliteAnalysisSource } from '../server/src/analysis/sqlite-analysis-source.js';
import { isDeepStrictEqual } from 'node:util';
import { openChdb, type ChdbRawInsert } from '../server/src/clickhouse/clickhouse-connection.js';
import { ClickHouseWriter, withDateTimes } from '../server/src/clickhouse/clickhouse-writer.js';
import { metricRows, spanRecordRow, traceRows } from '../server/src/clickhouse/exporter-rows.js';
import { EXPORTER_TABLES } from '../server/src/clickhouse/exporter-schema.js';
import { encodeMetricsRequest, encodeTraceRequest } from '../server/src/core/otlp-encode.js';
import type { SpanRecord } from '../server/src/core/telemetry-records.js';
import { TelemetryStore } from '../server/src/store/telemetry-store.js';
import { generateBatches, timeResultsAlternating, warmMedian } from './analysis-bench.js';
import { printTable, writeResult } from './bench-lib.js';

const SIZES = (process.env.BENCH_CLICKHOUSE_SPANS ?? '1000000,10000000').split(',').map(Number);
const BACKENDS = (process.env.BENCH_CLICKHOUSE_BACKENDS ?? 'sqlite,clickhouse').split(',');
const USERS = 100_000;
const DAYS = 7;
/** Spans per request in the generator: 8 of the service's, about 1.2 from browsers. */
const SPANS_PER_REQUEST = 9.2;
/** Reads per backend and size, the first cold; SQLite and ClickHouse take turns (`BENCH_CLICKHOUSE_RUNS`). */
const RUNS = Number(process.env.BENCH_CLICKHOUSE_RUNS ?? 5);
/** Rows per ClickHouse insert: ClickHouse wants few large inserts (each makes a part per day), the generator yields 5,000. */
const CLICKHOUSE_INSERT_ROWS = 200_000;

interface Fill {
  spans: number;
  points: number;
  seconds: number;
}

/** The generator's batches of one size, the same for both backends (fixed seed). */
function batches(size: number) {
  let state = 42;
  const random = () => ((state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const spacing = BigInt(Math.round((DAYS * 86_400e9) / (size / SPANS_PER_REQUEST)));
  return generateBatches({ totalSpans: size, totalPoints: size / 10, users: USERS, requestSpacingNs: spacing }, random);
}

/** Runs `fill` unless `marker` says it ran to the end before; returns what it wrote. */
async function filled(marker: string, fill: () => Promise<Fill>): Promise<Fill & { reused: boolean }> {
  if (existsSync(marker)) return { ...(JSON.parse(readFileSync(marker, 'utf8')) as Fill), reused: true };
  const result = await fill();
  writeFileSync(marker, JSON.stringify(result));
  return { ...result, reused: false };
}

async function fillSqlite(size: number, path: string): Promise<Fill> {
  const store = new TelemetryStore({ path });
  const fill = { spans: 0, points: 0, seconds: 0 };
  const started = performance.now();
  for (const batch of batches(size)) {
    store.write(batch.spans, batch.points);
    fill.spans += batch.spans.length;
    fill.points += batch.points.length;
  }
  store.close();
  fill.seconds = (performance.now() - started) / 1000;
  return fill;
}

/** Plain data (attribute maps are made without a prototype) for comparing rows. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

/**
 * Throws unless `spans` map to the same `otel_traces` rows directly (`spanRecordRow`, the fill's
 * path) as through the endpoint's path (OTLP/JSON request, then `traceRows`).
 */
function assertEndpointRows(spans: readonly SpanRecord[]): void {
  const endpoint = new Map(traceRows(encodeTraceRequest(spans)).map((row) => [`${row.TraceId}/${row.SpanId}`, plain(row)]));
  for (const span of spans) {
    const row = spanRecordRow(span);
    if (!isDeepStrictEqual(plain(row), endpoint.get(`${row.TraceId}/${row.SpanId}`))) {
      throw new Error(`the fill's row of span ${row.SpanId} differs from the endpoint's: ${JSON.stringify(row)}`);
    }
  }
}

/** Rows as one `JSONEachRow` payload, times as the writer sends them. */
function jsonEachRow(rows: readonly object[]): Buffer {
  return Buffer.from(rows.map((row) => JSON.stringify(withDateTimes(row))).join('\n'));
}

/**
 * Writes the generator's telemetry into the exporter's tables: spans mapped straight to their rows
 * (the same rows as the endpoint's path writes; the first batch is checked against it) and sent in
 * large `JSONCompactEachRow` payloads through chdb's raw insert, metric points through the
 * endpoint's own mapping as `JSONEachRow`. The materialized views fill the analysis tables as the
 * rows arrive, so the rate includes them. One insert runs while the next payload is generated.
 */
async function fillClickHouse(size: number, client: ClickHouseClient, rawInsert: ChdbRawInsert, database: string): Promise<Fill> {
  const writer = new ClickHouseWriter(client, database);
  await writer.ensureSchema();
  await ensureAnalysisTables(client, database);
  const fill = { spans: 0, points: 0, seconds: 0 };
  const settings = { session_timezone: 'UTC' };
  let columns: string[] | undefined;
  let lines: string[] = [];
  let pending: Promise<unknown> = Promise.resolve();
  const started = performance.now();
  const flushSpans = async () => {
    if (lines.length === 0) return;
    const values = Buffer.from(lines.join('\n'));
    fill.spans += lines.length;
    lines = [];
    await pending;
    pending = rawInsert({ table: `${database}.${EXPORTER_TABLES.traces}`, values, format: 'JSONCompactEachRow', columns, settings });
  };
  let checked = false;
  for (const batch of batches(size)) {
    if (batch.spans.length > 0 && !checked) {
      assertEndpointRows(batch.spans);
      checked = true;
    }
    for (const span of batch.spans) {
      const row = withDateTimes(spanRecordRow(span));
      columns ??= Object.keys(row);
      lines.push(JSON.stringify(Object.values(row)));
    }
    if (lines.length >= CLICKHOUSE_INSERT_ROWS) await flushSpans();
    if (batch.points.length > 0) {
      const rows = metricRows(encodeMetricsRequest(batch.points));
      await pending;
      pending = Promise.all(
        (['gauge', 'sum', 'histogram'] as const)
          .filter((kind) => rows[kind].length > 0)
          .map((kind) => rawInsert({ table: `${database}.${EXPORTER_TABLES[kind]}`, values: jsonEachRow(rows[kind]), format: 'JSONEachRow', settings })),
      );
      fill.points += batch.points.length;
    }
  }
  await flushSpans();
  await pending;
  fill.seconds = (performance.now() - started) / 1000;
  return fill;
}

/** A backend's columns of the table: its insert rate, its cold run and the median of its warm runs. */
function figures(backend: string, fill: Fill, timing: { runsMs: number[]; users: number }): Record<string, number> {
  return {
    spans: fill.spans,
    metricPoints: fill.points,
    users: timing.users,
    [`${backend}InsertRowsPerS`]: Math.round((fill.spans + fill.points) / fill.seconds),
    [`${backend}ColdMs`]: Math.round(timing.runsMs[0]!),
    [`${backend}WarmMs`]: Math.round(warmMedian(timing.runsMs)),
  };
}

export async function runClickHouseBench(): Promise<Record<string, unknown>> {
  const folder = process.env.BENCH_CLICKHOUSE_DIR ?? mkdtempSync(join(tmpdir(), 'variant-lens-clickhouse-'));
  mkdirSync(folder, { recursive: true });
  console.log(`data: ${folder}`);
  // One embedded engine per process: one folder, a database per size.
  const chdb = BACKENDS.includes('clickhouse') ? openChdb(join(folder, 'chdb')) : undefined;
  const client = chdb?.client;
  const rows: Record<string, string | number>[] = [];
  try {
    for (const size of SIZES) {
      const row: Record<string, string | number> = { spans: size };
      const backends: { name: 'sqlite' | 'chdb'; fill: Fill; source: AnalysisSource }[] = [];
      if (BACKENDS.includes('sqlite')) {
        const path = join(folder, `telemetry-${size}.db`);
        const fill = await filled(join(folder, `fill-sqlite-${size}.json`), () => fillSqlite(size, path));
        backends.push({ name: 'sqlite', fill, source: new SqliteAnalysisSource(path) });
      }
      if (chdb !== undefined) {
        const { client, rawInsert } = chdb;
        const database = `otel_${size}`;
        const fill = await filled(join(folder, `fill-clickhouse-${size}.json`), () => fillClickHouse(size, client, rawInsert, database));
        const source = new ClickHouseAnalysisSource(client, { database, requestService: 'recommendation-service', experimentKeys: ['experiment.rec_algorithm', 'experiment.ranking_boost'] }, false);
        backends.push({ name: 'chdb', fill, source });
      }
      const timings = await timeResultsAlternating(backends.map((b) => b.source), RUNS);
      const warm: Record<string, number> = {};
      for (const [i, { name, fill }] of backends.entries()) {
        const timing = timings[i]!;
        if (row.users !== undefined && row.users !== timing.users) console.warn(`users differ: SQLite ${row.users}, ClickHouse ${timing.users}`);
        warm[name] = warmMedian(timing.runsMs);
        Object.assign(row, figures(name, fill, timing));
      }
      if (warm.sqlite !== undefined && warm.chdb !== undefined) row.sqliteOverChdb = Number((warm.sqlite / warm.chdb).toFixed(2));
      rows.push(row);
      printTable(`Results of rec_algorithm_v3 at ${size.toLocaleString('en-US')} spans`, [row]);
    }
  } finally {
    await client?.close();
  }
  printTable(`ClickHouse (chdb) and SQLite, results of rec_algorithm_v3 (median of ${RUNS - 1} warm runs, the backends taking turns)`, rows);
  console.log(`written ${writeResult(`clickhouse-${BACKENDS.join('-')}`, { folder, rows })}`);
  return { rows };
}
