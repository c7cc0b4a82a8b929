/** Shared pieces of the benchmarks: a server child process, tables and JSON output. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { ROOT, startServerProcess, type ServerProcess } from '../e2e/server-process.js';

export const PROJECT_ROOT = ROOT;

/**
 * A server started exactly as `npm start` starts it, in its own process, with retention off
 * (a benchmark's store must keep what it was sent). Its data folder goes with `stop` unless
 * `keepDataDir` (to read the store afterwards; the caller removes it): a recommendations run
 * leaves about 2 GB. BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")
 * profiles it under load.
 */
export function startServer(env: Record<string, string> = {}, options: { keepDataDir?: boolean } = {}): Promise<ServerProcess> {
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return startServerProcess({ RETENTION_MAX_AGE_HOURS: '0', RETENTION_MAX_SPANS: '0', ...env }, { nodeArgs, keepDataDir: options.keepDataDir === true, echoStderr: true });
}

/** Prints rows as an aligned text table. */
export function printTable(title: string, rows: readonly Record<string, string | number>[]): void {
  console.log(`\n${title}`);
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!);
  const cell = (v: string | number | undefined) => (typeof v === 'number' ? formatNumber(v) : (v ?? ''));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(cell(r[c])).length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ');
  console.log(line(columns));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(columns.map((c) => String(cell(row[c])))));
}

function formatNumber(value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  return value.toLocaleString('en-US', { maximumFractionDigits: 3 });
}

/** Where the machine and the date are recorded with every result. */
export function machine(): Record<string, string | number> {
  return { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), date: new Date().toISOString() };
}

/** Writes `bench/out/<name>.json`. */
export function writeResult(name: string, result: unknown): string {
  const dir = join(PROJECT_ROOT, 'bench', 'out');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  writeFileSync(path, `${JSON.stringify({ machine: machine(), ...(result as object) }, null, 2)}\n`);
  return path;
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
