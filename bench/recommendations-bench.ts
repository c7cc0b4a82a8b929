/**
 * Recommendations benchmark: `GET /api/recommendations` under 50 connections, the server
 * instrumented and with `OTEL_SDK_DISABLED=true`, alternating rounds in one run. Visitors
 * cycle through the 5,000 generated users.
 *
 * Caches with a time to live make a closed-loop benchmark unfair: the faster server comes
 * back to each visitor sooner, finds more of them still cached and gets faster still, and
 * which round meets an expiry wave is chance (a 5 s window measured 0% and 100% feature-cache
 * misses in the same run). So each scenario fixes what every request does, whatever the
 * throughput:
 * - `warm`: lifetimes longer than the run; after one pass over the audience every lookup
 *   hits — the serving path of a warmed-up service.
 * - `cold`: every visitor is new to the features cache (a lifetime of 0), so every request
 *   asks the feature store over HTTP — the cross-service path, with its client span and the
 *   feature store's span. The content caches (candidate pools, neighbours, articles) are
 *   shared by all visitors and stay filled, as they are in a running service.
 *
 * `BENCH_SCENARIOS=cold` (or `warm`) runs one of them, here and in `recommendations-cpu`.
 */
import autocannon, { type Result } from 'autocannon';
import type { ServerProcess } from '../e2e/server-process.js';
import { printTable, startServer, writeResult } from './bench-lib.js';

const CONNECTIONS = 50;
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 10);
const ROUNDS = 3;
export const USERS = 5000;
/** Warm-up before measuring: one pass over the audience (filling the caches that keep), and at least this long for JIT-compiled code. */
const WARMUP_SECONDS = 3;
const HOUR_MS = '3600000';

export interface Scenario {
  readonly name: 'warm' | 'cold';
  readonly env: Record<string, string>;
}

export const SCENARIOS: readonly Scenario[] = [
  { name: 'warm', env: { FEATURES_CACHE_TTL_MS: HOUR_MS, CONTENT_CACHE_TTL_MS: HOUR_MS } },
  { name: 'cold', env: { FEATURES_CACHE_TTL_MS: '0', CONTENT_CACHE_TTL_MS: HOUR_MS } },
];

interface Round {
  scenario: string;
  mode: string;
  round: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** Load for a `duration` in seconds, or for an `amount` of requests, visitors cycling through the audience. */
async function load(server: ServerProcess, until: { duration: number } | { amount: number }): Promise<Result> {
  let n = 0;
  return autocannon({
    url: server.url,
    connections: CONNECTIONS,
    ...until,
    requests: [
      {
        method: 'GET',
        setupRequest: (request) => ({ ...request, path: `/api/recommendations?userId=u${String((n++ % USERS) + 1).padStart(5, '0')}&limit=10` }),
      },
    ],
  });
}

/** One pass over the whole audience, then more load if that took less than WARMUP_SECONDS. */
async function warmUp(server: ServerProcess): Promise<void> {
  const started = Date.now();
  await load(server, { amount: USERS });
  const left = WARMUP_SECONDS - (Date.now() - started) / 1000;
  if (left > 0) await load(server, { duration: left });
}

async function runScenario(scenario: Scenario): Promise<Round[]> {
  const instrumented = await startServer({ METRIC_INTERVAL_MS: '5000', ...scenario.env });
  const disabled = await startServer({ OTEL_SDK_DISABLED: 'true', ...scenario.env });
  const rounds: Round[] = [];
  try {
    await warmUp(instrumented);
    await warmUp(disabled);
    for (let round = 1; round <= ROUNDS; round += 1) {
      for (const [mode, server] of [
        ['instrumented', instrumented],
        ['OTEL_SDK_DISABLED', disabled],
      ] as const) {
        const result = await load(server, { duration: ROUND_SECONDS });
        rounds.push({
          scenario: scenario.name,
          mode,
          round,
          requestsPerSecond: Math.round(result['2xx'] / ROUND_SECONDS),
          p50Ms: result.latency.p50,
          p99Ms: result.latency.p99,
          errors: result.errors + result.non2xx,
        });
      }
    }
  } finally {
    await Promise.all([instrumented.stop(), disabled.stop()]);
  }
  return rounds;
}

function summarize(scenario: string, rounds: readonly Round[]): Record<string, string | number> {
  const mean = (mode: string, key: 'requestsPerSecond' | 'p99Ms') => {
    const of = rounds.filter((r) => r.scenario === scenario && r.mode === mode);
    return of.reduce((s, r) => s + r[key], 0) / of.length;
  };
  return {
    scenario,
    instrumentedRps: Math.round(mean('instrumented', 'requestsPerSecond')),
    disabledRps: Math.round(mean('OTEL_SDK_DISABLED', 'requestsPerSecond')),
    ratio: mean('instrumented', 'requestsPerSecond') / mean('OTEL_SDK_DISABLED', 'requestsPerSecond'),
    instrumentedP99Ms: mean('instrumented', 'p99Ms'),
    disabledP99Ms: mean('OTEL_SDK_DISABLED', 'p99Ms'),
  };
}

/** The scenarios to run (BENCH_SCENARIOS, comma-separated; default both), here and in the CPU benchmark. */
export function chosenScenarios(): readonly Scenario[] {
  const names = (process.env.BENCH_SCENARIOS ?? '').split(',').map((n) => n.trim()).filter(Boolean);
  return names.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => names.includes(s.name));
}

export async function runRecommendationsBench(): Promise<Record<string, unknown>> {
  const rounds: Round[] = [];
  const scenarios = chosenScenarios();
  for (const scenario of scenarios) rounds.push(...(await runScenario(scenario)));
  const summary = scenarios.map((s) => summarize(s.name, rounds));
  printTable(`GET /api/recommendations, ${CONNECTIONS} connections, ${ROUND_SECONDS}s rounds, alternating`, rounds as unknown as Record<string, number>[]);
  printTable('Recommendations summary (targets: ratio >= 0.85, instrumented p99 <= 25 ms)', summary);
  const result = { rounds, summary };
  console.log(`written ${writeResult('recommendations', result)}`);
  return result;
}
