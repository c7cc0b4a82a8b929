/**
 * Simulated experiments looked at again and again: how often the always-valid results and the
 * fixed-horizon p-values call a difference, and after how many users. Used by the unit test
 * that holds the sequential false-positive rate to α under continuous monitoring, and by the
 * power benchmark. Pure and seeded; users are drawn straight into the per-arm sums the delta
 * method needs, so a thousand experiments of 20,000 users per arm take seconds, not minutes.
 */
import { seededRandom } from '../../../common/src/seeded-random.js';
import { compareSequential, sequentialRhoSquared } from './sequential-statistics.js';
import { addRatioSums, compareRatios, emptyRatioSums, holm, ratioEstimateFromMoments, type RatioEstimate, type RatioSums } from './statistics.js';

export interface SimulationDesign {
  /** Relative lift of each arm's click propensity over the control's; the first is the control (0). */
  readonly relativeLifts: readonly number[];
  /** Users added to every arm between two looks. */
  readonly lookEveryUsersPerArm: number;
  /** Users per arm at the last look. */
  readonly maxUsersPerArm: number;
  readonly experiments: number;
  readonly seed: number;
  /** The control's click-through rate is drawn uniformly from this range for each experiment. */
  readonly ctrRange: readonly [number, number];
  /** Impressions per user are uniform on 1 … this. */
  readonly maxImpressionsPerUser: number;
  /** Tunes the sequential results (N* = 2 × this) and is the fixed horizon's planned size. */
  readonly plannedUsersPerArm: number;
  readonly alpha: number;
}

/** Per treatment: users per arm at the first look that called it significant (Holm), or null. */
export interface ExperimentOutcome {
  readonly sequential: readonly (number | null)[];
  readonly fixedHorizonAnyLook: readonly (number | null)[];
  /** Whether the fixed-horizon test (Holm) called it at the planned size, the one look it is valid at. */
  readonly fixedHorizonAtPlanned: readonly boolean[];
}

/** Cumulative binomial tables: row n (1 … max) holds P(C ≤ c) for c = 0 … n, flattened. */
function binomialTables(p: number, maxN: number): Float64Array {
  const table = new Float64Array((maxN + 1) * (maxN + 1));
  for (let n = 1; n <= maxN; n += 1) {
    let probability = Math.pow(1 - p, n);
    let cumulative = probability;
    for (let c = 0; c <= n; c += 1) {
      table[n * (maxN + 1) + c] = c === n ? 1 : cumulative;
      probability *= ((n - c) / (c + 1)) * (p / (1 - p));
      cumulative += probability;
    }
  }
  return table;
}

/** Adds `users` users to an arm: one uniform each, split into the impressions and the clicks. */
function addUsers(m: RatioSums, users: number, table: Float64Array, maxN: number, random: () => number): void {
  const stride = maxN + 1;
  let sumC = 0;
  let sumN = 0;
  let sumC2 = 0;
  let sumN2 = 0;
  let sumCN = 0;
  for (let u = 0; u < users; u += 1) {
    const scaled = random() * maxN;
    const n = 1 + Math.floor(scaled);
    // The fractional part is uniform too, independent of n: it picks the clicks.
    const v = scaled - (n - 1);
    const row = n * stride;
    let c = 0;
    while (v >= table[row + c]!) c += 1;
    sumC += c;
    sumN += n;
    sumC2 += c * c;
    sumN2 += n * n;
    sumCN += c * n;
  }
  addRatioSums(m, { k: users, sumC, sumN, sumC2, sumN2, sumCN });
}

/** Runs the design: every experiment looked at every `lookEveryUsersPerArm` users per arm. */
export function simulateMonitoredExperiments(design: SimulationDesign): ExperimentOutcome[] {
  const random = seededRandom(design.seed);
  const arms = design.relativeLifts.length;
  const treatments = arms - 1;
  const rhoSquared = sequentialRhoSquared(design.alpha, 2 * design.plannedUsersPerArm);
  const csAlpha = design.alpha / treatments;
  const maxN = design.maxImpressionsPerUser;
  const outcomes: ExperimentOutcome[] = [];
  for (let e = 0; e < design.experiments; e += 1) {
    const ctr = design.ctrRange[0] + random() * (design.ctrRange[1] - design.ctrRange[0]);
    const tables = design.relativeLifts.map((lift) => binomialTables(Math.min(1, ctr * (1 + lift)), maxN));
    const moments: RatioSums[] = design.relativeLifts.map(() => emptyRatioSums());
    const sequential: (number | null)[] = new Array<number | null>(treatments).fill(null);
    const fixedAnyLook: (number | null)[] = new Array<number | null>(treatments).fill(null);
    const fixedAtPlanned: boolean[] = new Array<boolean>(treatments).fill(false);
    for (let users = design.lookEveryUsersPerArm; users <= design.maxUsersPerArm; users += design.lookEveryUsersPerArm) {
      for (let a = 0; a < arms; a += 1) addUsers(moments[a]!, design.lookEveryUsersPerArm, tables[a]!, maxN, random);
      const estimates: RatioEstimate[] = moments.map((m) => ratioEstimateFromMoments(m));
      const control = estimates[0]!;
      const seqHolm = holm(estimates.slice(1).map((t) => compareSequential(t, control, rhoSquared, csAlpha).pValue));
      const fixedHolm = holm(estimates.slice(1).map((t) => compareRatios(t, control).pValue));
      for (let t = 0; t < treatments; t += 1) {
        if (sequential[t] === null && seqHolm[t]! < design.alpha) sequential[t] = users;
        if (fixedAnyLook[t] === null && fixedHolm[t]! < design.alpha) fixedAnyLook[t] = users;
        if (users === design.plannedUsersPerArm) fixedAtPlanned[t] = fixedHolm[t]! < design.alpha;
      }
    }
    outcomes.push({ sequential, fixedHorizonAnyLook: fixedAnyLook, fixedHorizonAtPlanned: fixedAtPlanned });
  }
  return outcomes;
}
