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
/** Warm-up before measuring, so both servers start with filled caches and JIT-compiled code. */
const WARMUP_SECONDS = 3;

interface Round {
  mode: string;
  round: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

async function load(server: ServerProcess, seconds: number): Promise<Result> {
  let n = 0;
  return autocannon({
    url: server.url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        setupRequest: (request) => ({ ...request, path: `/api/recommendations?userId=u${String((n++ % USERS) + 1).padStart(5, '0')}&limit=10` }),
      },
    ],
  });
}

export async function runRecommendationsBench(): Promise<Record<string, unknown>> {
  const instrumented = await startServer({ METRIC_INTERVAL_MS: '5000' });
  const disabled = await startServer({ OTEL_SDK_DISABLED: 'true' });
  const rounds: Round[] = [];
  try {
    await load(instrumented, WARMUP_SECONDS);
    await load(disabled, WARMUP_SECONDS);
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
