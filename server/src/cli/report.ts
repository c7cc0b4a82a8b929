/**
 * `npm run report -- --experiment <key> [--from <time>] [--to <time>] [--cohort <name>] [--json]`:
 * the results of one experiment as terminal tables, read from the SQLite store under
 * DATA_DIR (the server need not run).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { verdictLine } from '../core/comparison-verdict.js';
import { ConfigError, loadConfig, type ServerConfig } from '../config.js';
import type { AnalysisSource } from '../analysis/analysis-source.js';
import { ClickHouseAnalysisSource } from '../analysis/clickhouse/clickhouse-analysis-source.js';
import { openClickHouse } from '../clickhouse/clickhouse-connection.js';
import type { ExperimentResults } from '../core/experiment-analysis.js';
import type { GuardrailComparison } from '../core/guardrails.js';
import { COHORTS } from '../core/experiments.js';
import { SqliteAnalysisSource } from '../analysis/sqlite-analysis-source.js';
import { AnalysisRequestError, AnalysisService } from '../services/analysis-service.js';
import { TelemetryStore } from '../store/telemetry-store.js';
import { parseCommandLine } from './command-line.js';

const USAGE = `Usage: variant-lens report --experiment <key> [--from <time>] [--to <time>] [--cohort <name>] [--json]
       (npm run report -- ... in a clone)

The results of one experiment as terminal tables, read from the SQLite store under DATA_DIR
(default ./data; the server need not run). Experiments come from EXPERIMENTS_FILE
(default config/experiments.json).

Options:
  --experiment <key>  the experiment to report (required)
  --from <time>       window start: ISO 8601 date-time or ms since the epoch (default: everything)
  --to <time>         window end, same forms (default: now)
  --cohort <name>     only visitors of this cohort: ${COHORTS.join(' or ')} (default: all)
  --json              print the results as JSON, the same as the results API
  -h, --help          print this help`;

function pct(value: number | null | undefined, digits = 2): string {
  return value === null || value === undefined ? '–' : `${(value * 100).toFixed(digits)}%`;
}

function num(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined ? '–' : value.toFixed(digits);
}

function p(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : value < 0.0001 ? value.toExponential(1) : value.toFixed(4);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r, index) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ') + (index === 0 ? `\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : '')).join('\n');
}

function interval(range: readonly [number | null, number | null], format: (v: number | null) => string): string {
  return range[0] === null ? '–' : `${format(range[0])} – ${format(range[1])}`;
}

function level(results: ExperimentResults): string {
  const sequential = results.variants.find((v) => v.vsControl !== null)?.vsControl?.sequential;
  return sequential === undefined ? '' : `${+(sequential.level * 100).toFixed(2)}%`;
}

function guardrailCell(g: GuardrailComparison | null | undefined, format: (v: number | null) => string): string {
  if (g === null || g === undefined) return '–';
  return `${format(g.diff)} [${interval(g.diffCs, format)}]${g.alarm ? ' !' : ''}`;
}

/** The results as readable text: the same figures as the API and the dashboard. */
export function formatReport(results: ExperimentResults): string {
  const lines = [`${results.experiment} (${results.status}${results.winner ? `, winner ${results.winner}` : ''}) — baggage key ${results.baggageKey}, control ${results.control}`];
  lines.push(`window: ${results.window.from ?? 'start'} → ${results.window.to ?? 'now'}${results.cohort ? `, cohort ${results.cohort}` : ''}`);
  lines.push(
    `sample ratio: always-valid p = ${p(results.srm.sequentialPValue)}${results.srm.flagged ? '  ** MISMATCH **' : ' (ok)'} (chi-square p = ${p(results.srm.pValue)}, one look only); rejected clicks: ${results.rejectedClicks.unknownRequest} unknown request, ${results.rejectedClicks.variantMismatch} other variant`,
  );
  for (const warning of results.warnings) lines.push(`warning: ${warning}`);
  lines.push('');
  for (const v of results.variants) if (v.vsControl) lines.push(verdictLine(v.variant, v.vsControl.verdict.text));
  lines.push('');
  const cs = level(results);
  lines.push(`Clicks — always-valid results (safe to read at any time; intervals are ${cs} confidence sequences):`);
  lines.push(
    table([
      ['variant', 'users', 'requests', 'impressions', 'clicks', 'CTR', 'CTR 95% CI', 'lift', `lift ${cs} CS`, `diff ${cs} CS`, 'p', 'p Holm', 'metrics CTR'],
      ...results.variants.map((v) => [
        v.variant,
        String(v.users),
        String(v.requests),
        String(v.impressions),
        String(v.clicks),
        pct(v.ctr),
        `${pct(v.ctrCi95[0])} – ${pct(v.ctrCi95[1])}`,
        v.vsControl ? pct(v.vsControl.relativeLift, 1) : '–',
        v.vsControl ? interval(v.vsControl.sequential.relativeLiftCs, (x) => pct(x, 1)) : '–',
        v.vsControl ? interval(v.vsControl.sequential.diffCs, (x) => pct(x)) : '–',
        p(v.vsControl?.sequential.pValue),
        p(v.vsControl?.sequential.pValueHolm) + (v.vsControl?.significant ? ' *' : ''),
        pct(v.metrics.ctr),
      ]),
    ]),
  );
  const fixed = results.variants.find((v) => v.vsControl)?.vsControl?.fixedHorizon;
  if (fixed) {
    lines.push('');
    lines.push(
      `Clicks — fixed horizon: valid only at the planned sample size (${fixed.plannedUsersPerArm} users per arm), once it is reached (${fixed.reached ? 'reached' : 'not yet'}):`,
    );
    lines.push(
      table([
        ['variant', 'diff 95% CI', 'p', 'p Holm'],
        ...results.variants
          .filter((v) => v.vsControl)
          .map((v) => [v.variant, interval(v.vsControl!.diffCi95, (x) => pct(x)), p(v.vsControl!.pValue), p(v.vsControl!.pValueHolm)]),
      ]),
    );
  }
  lines.push('');
  lines.push('Guardrails — difference from control [always-valid 95% sequence], user as the unit; ! = alarm:');
  lines.push(
    table([
      ['variant', 'p50 / p95 / p99 ms', 'mean ms vs control', 'p50 ms vs control', 'p95 ms vs control', 'errors', 'errors vs control', 'cache hits', 'cache hits vs control', 'delivery', 'delivery vs control'],
      ...results.variants.map((v) => [
        v.variant,
        `${num(v.latencyMs.p50)} / ${num(v.latencyMs.p95)} / ${num(v.latencyMs.p99)}`,
        guardrailCell(v.guardrails?.latencyMeanMs, (x) => num(x, 2)),
        v.guardrails?.latencyP50Ms ? guardrailCell(v.guardrails.latencyP50Ms, (x) => num(x, 2)) : num(v.guardrails?.latencyP50DiffMs, 2),
        v.guardrails?.latencyP95Ms ? guardrailCell(v.guardrails.latencyP95Ms, (x) => num(x, 2)) : num(v.guardrails?.latencyP95DiffMs, 2),
        pct(v.errorRate),
        guardrailCell(v.guardrails?.errorRate, (x) => pct(x)),
        pct(v.cacheHitRate, 1),
        guardrailCell(v.guardrails?.cacheHitRate, (x) => pct(x, 1)),
        pct(v.delivery.share, 1),
        guardrailCell(v.guardrails?.delivery, (x) => pct(x, 1)),
      ]),
    ]),
  );
  const names = [...new Set(results.variants.flatMap((v) => Object.keys(v.downstream)))].sort();
  if (names.length > 0) {
    lines.push('');
    lines.push(
      table([
        ['downstream span (count · p50 · p95 ms)', ...results.variants.map((v) => v.variant)],
        ...names.map((name) => [name, ...results.variants.map((v) => (v.downstream[name] ? `${v.downstream[name].count} · ${num(v.downstream[name].p50Ms, 2)} · ${num(v.downstream[name].p95Ms, 2)}` : '–'))]),
      ]),
    );
  }
  return lines.join('\n');
}

/** Where the report reads: ClickHouse with `ANALYSIS_BACKEND=clickhouse`, else the SQLite store under DATA_DIR. */
async function analysisSource(config: ServerConfig): Promise<AnalysisSource> {
  if (config.analysisBackend === 'clickhouse' && config.clickhouse !== undefined) {
    return new ClickHouseAnalysisSource(openClickHouse(config.clickhouse), {
      database: config.clickhouse.database,
      requestService: config.serviceName,
      experimentKeys: config.experiments.experiments.map((e) => e.baggageKey),
    });
  }
  const path = join(config.dataDir, 'telemetry.db');
  if (!existsSync(path)) throw new ConfigError(`no telemetry store at ${path}; start the server (npm start) or set DATA_DIR`);
  // Opening the store brings its schema up to date before the read-only analysis connection.
  new TelemetryStore({ path }).close();
  return new SqliteAnalysisSource(path);
}

async function main(): Promise<void> {
  const { values } = parseCommandLine('report', USAGE, {
    options: { experiment: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, cohort: { type: 'string' }, json: { type: 'boolean' } },
  });
  const config = loadConfig(process.env);
  const keys = config.experiments.experiments.map((e) => e.key).join(', ');
  if (values.experiment === undefined) throw new ConfigError(`--experiment is required: one of ${keys}`);
  const experiment = config.experiments.experiments.find((e) => e.key === values.experiment);
  if (experiment === undefined) {
    throw new ConfigError(`--experiment is invalid: experiment ${values.experiment} does not exist; the experiments are ${keys}`);
  }
  const analysis = new AnalysisService(await analysisSource(config), config.experiments.experiments);
  try {
    const results = await analysis.results(experiment, { from: values.from, to: values.to, cohort: values.cohort });
    console.log(values.json ? JSON.stringify(results, null, 2) : formatReport(results));
  } finally {
    await analysis.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError || error instanceof AnalysisRequestError ? error.message : error);
  process.exit(1);
});
