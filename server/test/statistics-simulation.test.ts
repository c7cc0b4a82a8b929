/**
 * Simulated experiments: with no true effect the delta-method test rejects at its nominal rate,
 * and a planted lift is found as often as the design predicts. Seeded, so the outcome is
 * reproducible: a failure means the statistics are off, not bad luck.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../common/src/seeded-random.js';
import { compareRatios, ratioEstimate } from '../src/core/statistics.js';

/** The design, and its prediction computed with scipy (make-statistics-fixtures.py). */
interface Design {
  readonly usersPerArm: number;
  readonly impressionsPoissonMean: number;
  readonly betaA: number;
  readonly betaB: number;
  readonly relativeLift: number;
  readonly alpha: number;
  readonly standardError: number;
  readonly predictedPower: number;
  readonly pilotPredictedPower: number;
}

const design = (
  JSON.parse(readFileSync(new URL('./fixtures/statistics-fixtures.json', import.meta.url), 'utf8')) as { design: Design }
).design;

/**
 * Power of the two-sided test at α = 0.05 for the design: 2 × 2,000 users, impressions
 * 1 + Poisson(15), click propensity Beta(2, 38) (CTR 5%), treatment propensity × 1.1 (CTR 5.5%).
 * Per user, Var(c − R·n) = E[n]·(μ − Var p − μ²) + E[n²]·Var p: 1.0554 (control), 1.1891
 * (treatment); SE(diff) = √((1.0554 + 1.1891) / (2000 · 16²)) = 0.0020937, so the lift of 0.005
 * is 2.388 SE and the power is Φ(2.388 − 1.960) + Φ(−2.388 − 1.960) = 0.6657 (a 1M-user numpy
 * pilot gives 0.6666).
 */
const PREDICTED_POWER = 0.6657;

/** Enough A/A runs that [3%, 7%] is ±4 binomial SDs around 5%: a miss is a real miscalibration. */
const AA_REPETITIONS = 2_000;
/** ±3 SD of the observed power is then ±0.045. */
const POWER_REPETITIONS = 1_000;
const POWER_TOLERANCE_SDS = 3;

type Random = () => number;

function standardNormal(random: Random): number {
  // Box-Muller; 1 − u keeps the logarithm finite.
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Gamma(shape ≥ 1, 1) by Marsaglia and Tsang (2000). */
function gamma(random: Random, shape: number): number {
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = standardNormal(random);
    const v0 = 1 + c * x;
    if (v0 <= 0) continue;
    const v = v0 * v0 * v0;
    const u = 1 - random();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

function beta(random: Random, a: number, b: number): number {
  const x = gamma(random, a);
  return x / (x + gamma(random, b));
}

/** Poisson by inversion of the CDF: one uniform, ~mean steps. */
function poisson(random: Random, mean: number): number {
  const u = random();
  let k = 0;
  let probability = Math.exp(-mean);
  let cumulative = probability;
  while (u > cumulative && probability > 0) {
    k += 1;
    probability *= mean / k;
    cumulative += probability;
  }
  return k;
}

/** Binomial by inversion of the CDF (n is small here: tens of impressions). */
function binomial(random: Random, n: number, p: number): number {
  const u = random();
  const odds = p / (1 - p);
  let k = 0;
  let probability = Math.pow(1 - p, n);
  let cumulative = probability;
  while (u > cumulative && k < n) {
    probability *= (odds * (n - k)) / (k + 1);
    k += 1;
    cumulative += probability;
  }
  return k;
}

/** One arm's users: impressions and clicks, propensity scaled by `propensityScale`. */
function simulateArm(random: Random, propensityScale: number): { clicks: number[]; impressions: number[] } {
  const clicks = new Array<number>(design.usersPerArm);
  const impressions = new Array<number>(design.usersPerArm);
  for (let u = 0; u < design.usersPerArm; u += 1) {
    const n = 1 + poisson(random, design.impressionsPoissonMean);
    const p = Math.min(1, propensityScale * beta(random, design.betaA, design.betaB));
    impressions[u] = n;
    clicks[u] = binomial(random, n, p);
  }
  return { clicks, impressions };
}

interface Run {
  readonly diff: number;
  readonly se: number;
  readonly pValue: number;
}

function runExperiments(seed: number, repetitions: number, treatmentScale: number): Run[] {
  const random = seededRandom(seed);
  const runs: Run[] = [];
  for (let r = 0; r < repetitions; r += 1) {
    const control = simulateArm(random, 1);
    const treatment = simulateArm(random, treatmentScale);
    const c = ratioEstimate(control.clicks, control.impressions);
    const t = ratioEstimate(treatment.clicks, treatment.impressions);
    const comparison = compareRatios(t, c);
    runs.push({ diff: comparison.diff, se: Math.sqrt(t.variance + c.variance), pValue: comparison.pValue });
  }
  return runs;
}

function rejectionRate(runs: readonly Run[]): number {
  return runs.filter((run) => run.pValue < design.alpha).length / runs.length;
}

describe(`simulated experiments: 2 × ${design.usersPerArm} users, impressions 1 + Poisson(${design.impressionsPoissonMean}), propensity Beta(${design.betaA}, ${design.betaB})`, () => {
  let aaRuns: Run[] | undefined;
  const aa = (): Run[] => (aaRuns ??= runExperiments(20261101, AA_REPETITIONS, 1));

  it(`A/A over ${AA_REPETITIONS} experiments: the delta-method SE matches the spread of the difference`, () => {
    const runs = aa();
    const meanDiff = runs.reduce((sum, run) => sum + run.diff, 0) / runs.length;
    const empiricalSd = Math.sqrt(runs.reduce((sum, run) => sum + (run.diff - meanDiff) ** 2, 0) / (runs.length - 1));
    const meanSe = runs.reduce((sum, run) => sum + run.se, 0) / runs.length;
    // The SD of 2,000 draws has a relative SE of 1/√4000 ≈ 1.6%; 6% is ~4 of those.
    expect(Math.abs(meanSe / empiricalSd - 1), `mean SE ${meanSe} vs empirical SD ${empiricalSd}`).toBeLessThan(0.06);
  });

  it(`A/A over ${AA_REPETITIONS} experiments: the false-positive rate at α = 0.05 is within [3%, 7%]`, () => {
    const rate = rejectionRate(aa());
    console.log(`A/A false-positive rate: ${(rate * 100).toFixed(2)}% of ${AA_REPETITIONS}`);
    expect(rate).toBeGreaterThanOrEqual(0.03);
    expect(rate).toBeLessThanOrEqual(0.07);
  });

  it(`a planted ${design.relativeLift * 100}% relative lift is detected with the predicted power of ${(PREDICTED_POWER * 100).toFixed(1)}% (±${POWER_TOLERANCE_SDS} SD over ${POWER_REPETITIONS} experiments)`, () => {
    // The prediction stated above is the one scipy computed, analytically and by a pilot.
    expect(Math.abs(design.predictedPower - PREDICTED_POWER)).toBeLessThan(1e-4);
    expect(Math.abs(design.pilotPredictedPower - design.predictedPower)).toBeLessThan(0.01);
    const power = rejectionRate(runExperiments(20261102, POWER_REPETITIONS, 1 + design.relativeLift));
    const tolerance = POWER_TOLERANCE_SDS * Math.sqrt((PREDICTED_POWER * (1 - PREDICTED_POWER)) / POWER_REPETITIONS);
    console.log(`observed power: ${(power * 100).toFixed(2)}% of ${POWER_REPETITIONS} (predicted ${(PREDICTED_POWER * 100).toFixed(2)}% ± ${(tolerance * 100).toFixed(2)})`);
    expect(Math.abs(power - PREDICTED_POWER)).toBeLessThanOrEqual(tolerance);
  });
});
