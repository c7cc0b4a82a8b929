/**
 * Analysis benchmark: results of one experiment over 1,000,000 stored spans and 100,000
 * metric points, generated straight into a fresh SQLite store with the shapes the server
 * and the SDK produce. Reports the time of the results call, cold and warm.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assignVariant } from '../server/src/core/assignment.js';
import { readExperimentsFile } from '../server/src/config.js';
import type { MetricPointRecord, SpanRecord } from '../server/src/core/telemetry-records.js';
import type { AnalysisSource } from '../server/src/analysis/analysis-source.js';
import { SqliteAnalysisSource } from '../server/src/analysis/sqlite-analysis-source.js';
import { AnalysisService } from '../server/src/services/analysis-service.js';
import { TelemetryStore } from '../server/src/store/telemetry-store.js';
import { PROJECT_ROOT, printTable, writeResult } from './bench-lib.js';

const TOTAL_SPANS = Number(process.env.BENCH_ANALYSIS_SPANS ?? 1_000_000);
const TOTAL_POINTS = Number(process.env.BENCH_ANALYSIS_POINTS ?? 100_000);
const USERS = 20_000;
/** Per request: the server span, the request span, six downstream spans. */
const TRUSTED_PER_REQUEST = 8;
/** Browser spans per request on average (a view, and a click on some). */
const BROWSER_PER_REQUEST = 1.2;
const RUNS = 7;
const BATCH = 5000;
const START_NS = 1_795_000_000_000_000_000n;

function hex(n: number, digits: number): string {
  return n.toString(16).padStart(digits, '0');
}

function span(id: number, traceId: string, parent: string | null, name: string, kind: number, startNs: bigint, durationNs: bigint, attributes: SpanRecord['attributes'], trusted: boolean): SpanRecord {
  return {
    traceId,
    spanId: hex(id, 16),
    parentSpanId: parent,
    name,
    kind,
    service: trusted ? 'recommendation-service' : 'content-site',
    scope: 'bench',
    startTimeUnixNano: startNs.toString(),
    endTimeUnixNano: (startNs + durationNs).toString(),
    statusCode: 0,
    statusMessage: '',
    attributes,
    events: [],
    links: [],
    trusted,
  };
}

/** What the generator makes: spans in about `BATCH`-sized batches, then the metric points. */
export interface GenerateOptions {
  readonly totalSpans: number;
  readonly totalPoints: number;
  readonly users: number;
  /** Time between two requests; with the total, how many days the data covers. */
  readonly requestSpacingNs: bigint;
}

/**
 * Telemetry with the shapes the server and the SDK produce, in batches: requests with their
 * downstream spans, views and clicks from browsers, then metric points.
 */
export function* generateBatches(options: GenerateOptions, random: () => number): Generator<{ spans: SpanRecord[]; points: MetricPointRecord[] }> {
  const experiments = readExperimentsFile(join(PROJECT_ROOT, 'config/experiments.json')).experiments;
  const [rec, boost] = experiments;
  const requests = Math.round(options.totalSpans / (TRUSTED_PER_REQUEST + BROWSER_PER_REQUEST));
  let spans: SpanRecord[] = [];
  let stored = 0;
  let id = 1;
  for (let r = 0; r < requests && stored + spans.length < options.totalSpans; r += 1) {
    const user = `u${hex(r % options.users, 5)}`;
    const variant = assignVariant(user, rec!);
    const ranking = assignVariant(user, boost!);
    const attrs = { 'experiment.rec_algorithm': variant, 'experiment.ranking_boost': ranking, 'user.cohort': 'registered' };
    const traceId = hex(r + 1, 32);
    const start = START_NS + BigInt(r) * options.requestSpacingNs;
    const server = hex(id++, 16);
    const requestId = `req-${r}`;
    const latency = BigInt(Math.round((2 + random() * 6 + (variant === 'hybrid' ? 2 : 0)) * 1e6));
    spans.push(span(parseInt(server, 16), traceId, null, 'GET /api/recommendations', 2, start, latency + 500_000n, attrs, true));
    const requestSpan = id++;
    spans.push(span(requestSpan, traceId, server, 'recommendation.request', 1, start, latency, { ...attrs, 'user.id': user, 'recommendation.request_id': requestId, 'recommendation.count': 8 }, true));
    for (const [name, ms, extra] of [
      ['cache.get features', 0.01, { 'cache.hits': 1, 'cache.misses': 0 }],
      ['GET /features/:userId', 1.5, {}],
      ['feature_store.get_features', 0.6, { 'features.count': 20 }],
      ['cache.get neighbours', 0.02, { 'cache.hits': 15, 'cache.misses': random() < 0.1 ? 5 : 0 }],
      ['SELECT neighbours', 0.8, { 'db.system.name': 'sqlite' }],
      ['SELECT articles', 0.4, { 'db.system.name': 'sqlite' }],
    ] as const) {
      spans.push(span(id++, traceId, hex(requestSpan, 16), name, 3, start, BigInt(Math.round(ms * (0.5 + random()) * 1e6)), { ...attrs, ...extra }, true));
    }
    // The browser reports a view for most lists, and a click on some.
    if (random() < 0.9) spans.push(span(id++, hex(r + 1 + 50_000_000, 32), null, 'recommendation.view', 1, start + 1_000_000_000n, 1000n, { 'recommendation.request_id': requestId }, false));
    if (random() < 0.3) {
      spans.push(span(id++, hex(r + 1 + 90_000_000, 32), null, 'recommendation.click', 1, start + 2_000_000_000n, 1000n, { ...attrs, 'recommendation.request_id': requestId, 'content.id': `a${hex(r % 2000, 5)}`, 'recommendation.position': 1 + (r % 8) }, false));
    }
    if (spans.length >= BATCH) {
      stored += spans.length;
      yield { spans, points: [] };
      spans = [];
    }
  }
  if (spans.length > 0) yield { spans, points: [] };
  let points: MetricPointRecord[] = [];
  for (let p = 0; p < options.totalPoints; p += 1) {
    const variant = ['control', 'collaborative', 'hybrid'][p % 3]!;
    const kind = p % 4;
    const attributes = { 'experiment.rec_algorithm': variant, 'experiment.ranking_boost': p % 2 ? 'control' : 'recency_boost' };
    const time = (START_NS + BigInt(p) * 1_000_000_000n).toString();
    const base = { service: 'bench', resourceKey: `{"session":"${p % 500}"}`, scope: 'bench', attributes, startTimeUnixNano: time, timeUnixNano: time, trusted: kind !== 2 };
    if (kind === 3) {
      points.push({ ...base, name: 'recommendation.latency', unit: 'ms', kind: 'histogram', temporality: 1, monotonic: false, value: null, count: 10, sum: 50, bucketCounts: [0, 0, 2, 5, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0], explicitBounds: [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] });
    } else {
      const name = kind === 2 ? 'recommendation.click_through' : 'recommendation.impressions';
      points.push({ ...base, name, unit: '', kind: 'sum', temporality: 1, monotonic: true, value: kind === 2 ? 1 : 8, count: null, sum: null, bucketCounts: null, explicitBounds: null });
    }
    if (points.length >= BATCH) {
      yield { spans: [], points };
      points = [];
    }
  }
  if (points.length > 0) yield { spans: [], points };
}

function generate(store: TelemetryStore, random: () => number): { spans: number; points: number } {
  const counts = { spans: 0, points: 0 };
  for (const batch of generateBatches({ totalSpans: TOTAL_SPANS, totalPoints: TOTAL_POINTS, users: USERS, requestSpacingNs: 10_000_000n }, random)) {
    store.write(batch.spans, batch.points);
    counts.spans += batch.spans.length;
    counts.points += batch.points.length;
  }
  return counts;
}

/** The results of the first experiment read `runs` times from `source` (the first run cold): each run's ms and the users counted. */
export async function timeResults(source: AnalysisSource, runs: number): Promise<{ runsMs: number[]; users: number }> {
  return (await timeResultsAlternating([source], runs))[0]!;
}

/**
 * The full results of the first experiment from each source, `runs` rounds, the sources taking turns
 * within each round: a change of load on the machine meets every source alike.
 */
export async function timeResultsAlternating(sources: readonly AnalysisSource[], runs: number): Promise<{ runsMs: number[]; users: number }[]> {
  const experiments = readExperimentsFile(join(PROJECT_ROOT, 'config/experiments.json')).experiments;
  const timed = sources.map((source) => ({ analysis: new AnalysisService(source, experiments), runsMs: [] as number[], users: 0 }));
  try {
    for (let run = 0; run < runs; run += 1) {
      for (const t of timed) {
        const started = performance.now();
        const results = await t.analysis.results(experiments[0]!);
        t.runsMs.push(performance.now() - started);
        t.users = results.variants.reduce((sum, v) => sum + v.users, 0);
      }
    }
  } finally {
    for (const t of timed) await t.analysis.close();
  }
  return timed.map(({ runsMs, users }) => ({ runsMs, users }));
}

/** The median of the runs after the first (cold) one. */
export function warmMedian(runsMs: readonly number[]): number {
  const warm = runsMs.slice(1).sort((a, b) => a - b);
  return warm[Math.floor(warm.length / 2)] ?? runsMs[0]!;
}

export async function runAnalysisBench(): Promise<Record<string, unknown>> {
  const path = join(mkdtempSync(join(tmpdir(), 'variant-lens-analysis-')), 'telemetry.db');
  const store = new TelemetryStore({ path });
  let state = 42;
  const random = () => ((state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const generatedStart = performance.now();
  const generated = generate(store, random);
  const generateSeconds = (performance.now() - generatedStart) / 1000;
  store.close();
  console.log(`store: ${path}`);
  const { runsMs: times, users } = await timeResults(new SqliteAnalysisSource(path), RUNS);
  const summary = {
    spans: generated.spans,
    metricPoints: generated.points,
    users,
    coldMs: Math.round(times[0]!),
    warmMedianMs: Math.round(warmMedian(times)),
    warmMaxMs: Math.round(Math.max(...times.slice(1))),
  };
  printTable(`Analysis of rec_algorithm_v3 (target <= 250 ms); data generated in ${generateSeconds.toFixed(1)} s`, [summary]);
  console.log(`written ${writeResult('analysis', { summary, runsMs: times })}`);
  return summary;
}
