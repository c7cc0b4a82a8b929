/**
 * The reason for the always-valid results: a dashboard is looked at all the time. Simulated
 * 3-variant A/A experiments (no true difference), looked at every 100 users per arm up to
 * 20,000 per arm (200 looks): the sequential results call a false winner in at most α of the
 * experiments; the fixed-horizon p-values, read at every look, in far more (so the harness can
 * tell the two apart, and this test can fail). Seeded, so a failure is a defect, not bad luck.
 */
import { describe, expect, it } from 'vitest';
import { simulateMonitoredExperiments, type ExperimentOutcome } from '../src/core/sequential-simulation.js';
import { ratioEstimate, ratioEstimateFromMoments } from '../src/core/statistics.js';

const ALPHA = 0.05;
const EXPERIMENTS = 1_000;
const LOOK_EVERY = 100;
const MAX_USERS_PER_ARM = 20_000;

const anyCalled = (outcomes: readonly ExperimentOutcome[], pick: (o: ExperimentOutcome) => readonly (number | null | boolean)[]) =>
  outcomes.filter((o) => pick(o).some((x) => x !== null && x !== false)).length / outcomes.length;

describe(`${EXPERIMENTS} simulated 3-variant A/A experiments, a look every ${LOOK_EVERY} users per arm up to ${MAX_USERS_PER_ARM.toLocaleString('en-US')}`, () => {
  // CTR 2–8 % per experiment, 1–10 impressions per user, as in the measurement.
  const outcomes = simulateMonitoredExperiments({
    relativeLifts: [0, 0, 0],
    lookEveryUsersPerArm: LOOK_EVERY,
    maxUsersPerArm: MAX_USERS_PER_ARM,
    experiments: EXPERIMENTS,
    seed: 20261204,
    ctrRange: [0.02, 0.08],
    maxImpressionsPerUser: 10,
    plannedUsersPerArm: 5_000,
    alpha: ALPHA,
  });

  it('the sequential results call a false winner in at most 5 % of experiments, however often they are read', () => {
    const rate = anyCalled(outcomes, (o) => o.sequential);
    console.log(`sequential, any of 200 looks: ${(rate * 100).toFixed(1)} % of ${EXPERIMENTS}`);
    expect(rate).toBeLessThanOrEqual(ALPHA);
  });

  it('the fixed-horizon p-values read at every look call one in more than 20 % (what the sequential results prevent)', () => {
    const rate = anyCalled(outcomes, (o) => o.fixedHorizonAnyLook);
    console.log(`fixed horizon, any of 200 looks: ${(rate * 100).toFixed(1)} %`);
    expect(rate).toBeGreaterThan(0.2);
  });

  it('read once, at the planned size, the fixed-horizon test holds its 5 % (± 3 SD)', () => {
    const rate = anyCalled(outcomes, (o) => o.fixedHorizonAtPlanned);
    console.log(`fixed horizon, one look at 5,000 per arm: ${(rate * 100).toFixed(1)} %`);
    expect(Math.abs(rate - ALPHA)).toBeLessThanOrEqual(3 * Math.sqrt((ALPHA * (1 - ALPHA)) / EXPERIMENTS));
  });
});

describe('the simulation’s sums give the same estimate as the users themselves', () => {
  it('ratioEstimateFromMoments equals ratioEstimate', () => {
    const c = [0, 1, 0, 3, 2, 0, 0, 1];
    const n = [4, 5, 1, 9, 7, 2, 3, 6];
    const direct = ratioEstimate(c, n);
    const sums = ratioEstimateFromMoments({
      k: c.length,
      sumC: c.reduce((a, b) => a + b, 0),
      sumN: n.reduce((a, b) => a + b, 0),
      sumC2: c.reduce((a, b) => a + b * b, 0),
      sumN2: n.reduce((a, b) => a + b * b, 0),
      sumCN: c.reduce((a, b, i) => a + b * n[i]!, 0),
    });
    expect(sums.ratio).toBe(direct.ratio);
    expect(Math.abs(sums.variance - direct.variance)).toBeLessThan(1e-12 * direct.variance);
  });
});
