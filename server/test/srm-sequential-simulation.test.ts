/**
 * SRM checked on every refresh: simulated experiments with a correct 1:1:1 split, checked every
 * 100 users per arm up to 20,000 per arm (200 looks). The always-valid test flags at most its
 * nominal 0.1 % of them; the chi-square test at the same threshold, read at every look, flags
 * many times more (the issue measured 1.9 %): the harness can tell them apart. Seeded.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../common/src/seeded-random.js';
import { SRM_ALPHA } from '../src/core/experiment-analysis.js';
import { srmSequentialPValue } from '../src/core/srm-sequential.js';
import { chiSquareGoodnessOfFit } from '../src/core/statistics.js';

const EXPERIMENTS = 3_000;
const ARMS = 3;
const LOOK_EVERY = 100;
const MAX_USERS_PER_ARM = 20_000;
const USERS_PER_LOOK = ARMS * LOOK_EVERY;

/** Cumulative binomial(m, p) for m = 0 … max: row m holds P(X ≤ x), x = 0 … m. */
function binomialCdfRows(max: number, p: number): Float64Array[] {
  const rows: Float64Array[] = [];
  for (let m = 0; m <= max; m += 1) {
    const row = new Float64Array(m + 1);
    // In logs: (1 − p)^300 is fine, but this keeps any m safe.
    let logProbability = m * Math.log(1 - p);
    let cumulative = 0;
    for (let x = 0; x <= m; x += 1) {
      cumulative += Math.exp(logProbability);
      row[x] = x === m ? 1 : cumulative;
      logProbability += Math.log((m - x) / (x + 1)) + Math.log(p / (1 - p));
    }
    rows.push(row);
  }
  return rows;
}

function draw(row: Float64Array, u: number): number {
  let x = 0;
  while (u >= row[x]!) x += 1;
  return x;
}

describe(`${EXPERIMENTS} simulated experiments with a correct 1:1:1 split, SRM checked every ${LOOK_EVERY} users per arm`, () => {
  const third = binomialCdfRows(USERS_PER_LOOK, 1 / 3);
  const half = binomialCdfRows(USERS_PER_LOOK, 1 / 2);
  const random = seededRandom(20261205);
  /** The threshold, and the usual 5 % where 3,000 experiments measure a rate well. */
  const thresholds = [SRM_ALPHA, 0.05];
  const sequentialFlags = [0, 0];
  const chiSquareFlags = [0, 0];
  for (let e = 0; e < EXPERIMENTS; e += 1) {
    const counts: [number, number, number] = [0, 0, 0];
    const sequentialFlagged = [false, false];
    const chiSquareFlagged = [false, false];
    for (let look = 0; look < MAX_USERS_PER_ARM / LOOK_EVERY; look += 1) {
      // Each user of the look lands in arm 0 with 1/3, else in arm 1 or 2 with 1/2 each: multinomial.
      const first = draw(third[USERS_PER_LOOK]!, random());
      const second = draw(half[USERS_PER_LOOK - first]!, random());
      counts[0] += first;
      counts[1] += second;
      counts[2] += USERS_PER_LOOK - first - second;
      const sequentialP = srmSequentialPValue(counts, [1, 1, 1]);
      const chiSquareP = chiSquareGoodnessOfFit(counts, [1, 1, 1]).pValue;
      thresholds.forEach((alpha, i) => {
        sequentialFlagged[i] ||= sequentialP < alpha;
        chiSquareFlagged[i] ||= chiSquareP < alpha;
      });
    }
    thresholds.forEach((_, i) => {
      if (sequentialFlagged[i]) sequentialFlags[i]! += 1;
      if (chiSquareFlagged[i]) chiSquareFlags[i]! += 1;
    });
  }

  it(`at 0.05 the always-valid SRM test flags at most 5 % of them, the chi-square read at every look far more`, () => {
    console.log(`at 0.05: sequential SRM ${sequentialFlags[1]} of ${EXPERIMENTS}, chi-square at every look ${chiSquareFlags[1]}`);
    expect(sequentialFlags[1]! / EXPERIMENTS).toBeLessThanOrEqual(0.05);
    expect(chiSquareFlags[1]! / EXPERIMENTS).toBeGreaterThan(0.2);
  });

  it(`at ${SRM_ALPHA} the always-valid SRM test flags about its nominal rate at most, the chi-square many times more`, () => {
    console.log(`at ${SRM_ALPHA}: sequential SRM ${sequentialFlags[0]} of ${EXPERIMENTS}, chi-square at every look ${chiSquareFlags[0]}`);
    // At 0.1 % of 3,000, the count is about Poisson(≤ 3): the bound is α·n plus 3 of its SDs.
    const expected = SRM_ALPHA * EXPERIMENTS;
    expect(sequentialFlags[0]!).toBeLessThanOrEqual(expected + 3 * Math.sqrt(expected));
    expect(chiSquareFlags[0]! / EXPERIMENTS).toBeGreaterThan(0.005);
  });
});

describe('the always-valid SRM test finds a real mismatch', () => {
  it('one arm losing 5 % of its users is flagged by 20,000 users per arm in at least 90 % of 200 experiments', () => {
    const random = seededRandom(20261206);
    const shares = [1, 1, 0.95];
    const total = shares.reduce((a, b) => a + b, 0);
    const flagged: number[] = [];
    for (let e = 0; e < 200; e += 1) {
      const counts: [number, number, number] = [0, 0, 0];
      let flaggedAt: number | null = null;
      for (let users = 1; users <= 3 * MAX_USERS_PER_ARM && flaggedAt === null; users += 1) {
        const u = random() * total;
        counts[u < shares[0]! ? 0 : u < shares[0]! + shares[1]! ? 1 : 2] += 1;
        if (users % USERS_PER_LOOK === 0 && srmSequentialPValue(counts, [1, 1, 1]) < SRM_ALPHA) flaggedAt = users / ARMS;
      }
      if (flaggedAt !== null) flagged.push(flaggedAt);
    }
    flagged.sort((a, b) => a - b);
    console.log(`a 5 % loss in one arm: flagged in ${flagged.length} of 200, median at ${flagged[Math.floor(flagged.length / 2)]} users per arm`);
    expect(flagged.length).toBeGreaterThanOrEqual(180);
  });
});
