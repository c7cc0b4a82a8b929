/**
 * Recommendations benchmark: `GET /api/recommendations` under 50 connections, the server
 * instrumented and with `OTEL_SDK_DISABLED=true`, alternating rounds in one run. Visitors
 * cycle through the 5,000 generated users so caches and the feature store see realistic
 * traffic.
 */
import autocannon, { type Result } from 'autocannon';
import type { ServerProcess } from '../e2e/server-process.js';
import { printTable, startServer, writeResult } from './bench-lib.js';

const CONNECTIONS = 50;
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 10);
const ROUNDS = 3;
const USERS = 5000;
/**
 * Warm-up before measuring, so both servers start with filled caches and JIT-compiled code:
 * at least this long, and until every user has been asked for once (a slow machine needs
 * longer than a fast one to fill the caches; 3 s covered a fifth of the audience on the
 * 2 GHz Xeon), so neither server measures its first, cold pass.
 */
const WARMUP_SECONDS = 3;

interface Round {
  mode: string;
  round: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** Load for `seconds`, visitors cycling through the audience; with `amount`, stop after that many requests instead. */
async function load(server: ServerProcess, seconds: number, amount?: number): Promise<Result> {
  let n = 0;
  return autocannon({
    url: server.url,
    connections: CONNECTIONS,
    ...(amount === undefined ? { duration: seconds } : { amount }),
    requests: [
      {
        method: 'GET',
        setupRequest: (request) => ({ ...request, path: `/api/recommendations?userId=u${String((n++ % USERS) + 1).padStart(5, '0')}&limit=10` }),
      },
    ],
  });
}

/** One pass over the whole audience, and at least WARMUP_SECONDS of load. */
async function warmUp(server: ServerProcess): Promise<void> {
  const started = Date.now();
  await load(server, 0, USERS);
  const left = WARMUP_SECONDS - (Date.now() - started) / 1000;
  if (left > 0) await load(server, left);
}

export async function runRecommendationsBench(): Promise<Record<string, unknown>> {
  const instrumented = await startServer({ METRIC_INTERVAL_MS: '5000' });
  const disabled = await startServer({ OTEL_SDK_DISABLED: 'true' });
  const rounds: Round[] = [];
  try {
    await warmUp(instrumented);
    await warmUp(disabled);
    for (let round = 1; round <= ROUNDS; round += 1) {
      for (const [mode, server] of [
        ['instrumented', instrumented],
        ['OTEL_SDK_DISABLED', disabled],
      ] as const) {
        const result = await load(server, ROUND_SECONDS);
        rounds.push({
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
  const mean = (mode: string, key: 'requestsPerSecond' | 'p99Ms') => {
    const of = rounds.filter((r) => r.mode === mode);
    return of.reduce((s, r) => s + r[key], 0) / of.length;
  };
  const summary = {
    instrumentedRps: Math.round(mean('instrumented', 'requestsPerSecond')),
    disabledRps: Math.round(mean('OTEL_SDK_DISABLED', 'requestsPerSecond')),
    ratio: mean('instrumented', 'requestsPerSecond') / mean('OTEL_SDK_DISABLED', 'requestsPerSecond'),
    instrumentedP99Ms: mean('instrumented', 'p99Ms'),
    disabledP99Ms: mean('OTEL_SDK_DISABLED', 'p99Ms'),
  };
  printTable(`GET /api/recommendations, ${CONNECTIONS} connections, ${ROUND_SECONDS}s rounds, alternating`, rounds as unknown as Record<string, number>[]);
  printTable('Recommendations summary (targets: ratio >= 0.85, instrumented p99 <= 25 ms)', [summary]);
  const result = { rounds, summary };
  console.log(`written ${writeResult('recommendations', result)}`);
  return result;
}
