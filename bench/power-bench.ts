/**
 * Power benchmark: a planted +10 % CTR lift, found by the always-valid results (stopping at
 * the first look that calls it) and by a fixed-horizon test (one look at the planned size).
 * Reports power and the users per arm spent, and, for the same design with no lift, the share
 * of experiments with a false winner when every look is read. Seeded and pure: the figures
 * depend on the statistics, not on the machine (only the time does).
 */
import { simulateMonitoredExperiments, type ExperimentOutcome, type SimulationDesign } from '../server/src/core/sequential-simulation.js';
import { normalQuantile } from '../server/src/core/statistics.js';
import { printTable, writeResult } from './bench-lib.js';

const EXPERIMENTS = Number(process.env.BENCH_POWER_EXPERIMENTS ?? 2_000);
const ALPHA = 0.05;
const POWER = 0.8;
const CTR = 0.05;
const LIFT = 0.1;
const MAX_IMPRESSIONS = 10;
const LOOK_EVERY = 100;
/** The sequential runs may go on to this many times the planned size before giving up. */
const CAPS = [1, 2, 4] as const;

/**
 * Users per arm for 80 % power at α = 0.05 (two-sided) with a fixed horizon. Given its
 * impressions n (uniform 1 … 10, mean 5.5), a user's clicks are binomial(n, p), so
 * Var(c − p·n) = E[n]·p(1 − p) and the per-user variance of the ratio is p(1 − p)/E[n];
 * n = (z₀.₉₇₅ + z₀.₈)² · (σ²_c + σ²_t) / δ², rounded up to a whole look.
 */
function plannedUsersPerArm(): number {
  const meanImpressions = (1 + MAX_IMPRESSIONS) / 2;
  const treated = CTR * (1 + LIFT);
  const variance = (CTR * (1 - CTR) + treated * (1 - treated)) / meanImpressions;
  const z = normalQuantile(1 - ALPHA / 2) + normalQuantile(POWER);
  const n = (z * z * variance) / (CTR * LIFT) ** 2;
  return Math.ceil(n / LOOK_EVERY) * LOOK_EVERY;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function run(design: SimulationDesign): { outcomes: ExperimentOutcome[]; seconds: number } {
  const start = performance.now();
  const outcomes = simulateMonitoredExperiments(design);
  return { outcomes, seconds: (performance.now() - start) / 1000 };
}

export async function runPowerBench(): Promise<unknown> {
  const planned = plannedUsersPerArm();
  const base = {
    lookEveryUsersPerArm: LOOK_EVERY,
    maxUsersPerArm: planned * CAPS[CAPS.length - 1]!,
    experiments: EXPERIMENTS,
    ctrRange: [CTR, CTR] as const,
    maxImpressionsPerUser: MAX_IMPRESSIONS,
    plannedUsersPerArm: planned,
    alpha: ALPHA,
  };
  const lifted = run({ ...base, relativeLifts: [0, LIFT], seed: 20261210 });
  const aa = run({ ...base, relativeLifts: [0, 0], seed: 20261211 });
  const share = (outcomes: ExperimentOutcome[], called: (o: ExperimentOutcome) => boolean) => outcomes.filter(called).length / outcomes.length;
  const rows: Record<string, string | number>[] = [];
  const results: Record<string, unknown>[] = [];
  const fixedPower = share(lifted.outcomes, (o) => o.fixedHorizonAtPlanned[0]!);
  const fixedFalse = share(aa.outcomes, (o) => o.fixedHorizonAtPlanned[0]!);
  const fixedPeeking = share(aa.outcomes.map((o) => ({ ...o, sequential: o.fixedHorizonAnyLook.map((u) => (u !== null && u <= planned ? u : null)) })), (o) => o.sequential[0] !== null);
  rows.push({
    method: 'fixed horizon, one look at the planned size',
    'max users/arm': planned,
    power: `${(fixedPower * 100).toFixed(1)}%`,
    'median users/arm': planned,
    'median users/arm when found': planned,
    'A/A false winners': `${(fixedFalse * 100).toFixed(1)}%`,
  });
  results.push({ method: 'fixed-horizon', maxUsersPerArm: planned, power: fixedPower, medianUsersPerArm: planned, aaFalsePositiveRate: fixedFalse });
  rows.push({
    method: 'fixed horizon, read at every look (peeking)',
    'max users/arm': planned,
    power: '–',
    'median users/arm': '–',
    'median users/arm when found': '–',
    'A/A false winners': `${(fixedPeeking * 100).toFixed(1)}%`,
  });
  results.push({ method: 'fixed-horizon-peeking', maxUsersPerArm: planned, aaFalsePositiveRate: fixedPeeking });
  for (const cap of CAPS) {
    const limit = planned * cap;
    const stops = lifted.outcomes.map((o) => o.sequential[0] ?? null);
    const found = stops.filter((u): u is number => u !== null && u <= limit);
    const spent = stops.map((u) => (u !== null && u <= limit ? u : limit));
    const power = found.length / stops.length;
    const falseRate = share(aa.outcomes, (o) => (o.sequential[0] ?? Number.POSITIVE_INFINITY) <= limit);
    rows.push({
      method: `always valid, stop when called, at most ${cap}× planned`,
      'max users/arm': limit,
      power: `${(power * 100).toFixed(1)}%`,
      'median users/arm': median(spent),
      'median users/arm when found': found.length > 0 ? median(found) : '–',
      'A/A false winners': `${(falseRate * 100).toFixed(1)}%`,
    });
    results.push({ method: `sequential-cap-${cap}x`, maxUsersPerArm: limit, power, medianUsersPerArm: median(spent), medianUsersPerArmWhenFound: found.length > 0 ? median(found) : null, aaFalsePositiveRate: falseRate });
  }
  printTable(
    `Power against a planted +${LIFT * 100}% CTR lift (control CTR ${CTR * 100}%, 1-${MAX_IMPRESSIONS} impressions per user), ${EXPERIMENTS} experiments each, looks every ${LOOK_EVERY} users per arm, planned ${planned} users per arm (80% power, fixed horizon), N* = ${2 * planned}`,
    rows,
  );
  const path = writeResult('power', {
    design: { experiments: EXPERIMENTS, alpha: ALPHA, ctr: CTR, relativeLift: LIFT, maxImpressionsPerUser: MAX_IMPRESSIONS, lookEveryUsersPerArm: LOOK_EVERY, plannedUsersPerArm: planned, nStar: 2 * planned },
    results,
    simulationSeconds: lifted.seconds + aa.seconds,
  });
  console.log(`(simulation ${(lifted.seconds + aa.seconds).toFixed(1)} s) → ${path}`);
  return results;
}
