/**
 * Guardrails with the user as the unit, in simulated A/A experiments whose users differ the way
 * real ones do: 10 % never report anything (blocked or closed tabs), 5 % are heavy users with
 * 20–100 requests, 5 % have a flaky connection with 20 times the error rate, and every user has
 * a latency level of their own. With no true difference:
 * - read once, each user-level guardrail alarms at its nominal 5 % (within ±3 SD);
 * - the request-level tests the guardrails used before (requests as independent) alarm far more
 *   often on the same data (so this harness can tell the difference);
 * - watched at every look (every 200 users per arm), the always-valid guardrails alarm in at
 *   most 5 % of experiments each.
 * Seeded: a failure is a defect, not bad luck.
 */
import { describe, expect, it } from 'vitest';
import { compareGuardrail, compareQuantileGuardrail, GUARDRAIL_ALPHA, type ArmDurations, type GuardrailComparison } from '../src/core/guardrails.js';
import { seededRandom } from '../../common/src/seeded-random.js';
import { sequentialRhoSquared } from '../src/core/sequential-statistics.js';
import { percentile, twoProportionP, twoSidedP } from '../src/core/statistics.js';

const EXPERIMENTS = 400;
const USERS_PER_ARM = 4_000;
const LOOK_EVERY = 200;
const NEVER_REPORTS = 0.1;
const REPORT_SHARE = 0.9;
const HEAVY_USERS = 0.05;
const FLAKY_USERS = 0.05;
const BASE_ERROR_RATE = 0.01;
const FLAKY_ERROR_RATE = 0.2;
const MEDIAN_LATENCY_MS = 20;
const USER_LATENCY_SIGMA = 0.5;
const REQUEST_LATENCY_SIGMA = 0.3;
/** Cache lookups per request, and each user's own hit propensity: returning users hit, new ones miss. */
const LOOKUPS_PER_REQUEST = 3;
const RETURNING_USERS = 0.6;
const RETURNING_HIT_RATE = 0.9;
const NEW_HIT_RATE = 0.2;

interface Arm {
  requests: Float64Array;
  reported: Float64Array;
  errors: Float64Array;
  durationMsSum: Float64Array;
  cacheHits: Float64Array;
  cacheLookups: Float64Array;
}

/** An arm's users; `cacheRandom` draws the cache lookups apart, so the other guardrails' draws stay as they were. */
function simulateArm(random: () => number, cacheRandom: () => number): Arm {
  const arm: Arm = {
    requests: new Float64Array(USERS_PER_ARM),
    reported: new Float64Array(USERS_PER_ARM),
    errors: new Float64Array(USERS_PER_ARM),
    durationMsSum: new Float64Array(USERS_PER_ARM),
    cacheHits: new Float64Array(USERS_PER_ARM),
    cacheLookups: new Float64Array(USERS_PER_ARM),
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  for (let u = 0; u < USERS_PER_ARM; u += 1) {
    const requests = random() < HEAVY_USERS ? 20 + Math.floor(random() * 81) : 1 + Math.floor(-Math.log(1 - random()) * 2);
    const reportShare = random() < NEVER_REPORTS ? 0 : REPORT_SHARE;
    const errorRate = random() < FLAKY_USERS ? FLAKY_ERROR_RATE : BASE_ERROR_RATE;
    const level = MEDIAN_LATENCY_MS * Math.exp(USER_LATENCY_SIGMA * normal());
    let reported = 0;
    let errors = 0;
    let duration = 0;
    for (let r = 0; r < requests; r += 1) {
      if (random() < reportShare) reported += 1;
      if (random() < errorRate) errors += 1;
      duration += level * Math.exp(REQUEST_LATENCY_SIGMA * normal());
    }
    arm.requests[u] = requests;
    arm.reported[u] = reported;
    arm.errors[u] = errors;
    arm.durationMsSum[u] = duration;
    const hitRate = cacheRandom() < RETURNING_USERS ? RETURNING_HIT_RATE : NEW_HIT_RATE;
    let hits = 0;
    for (let l = 0; l < requests * LOOKUPS_PER_REQUEST; l += 1) if (cacheRandom() < hitRate) hits += 1;
    arm.cacheHits[u] = hits;
    arm.cacheLookups[u] = requests * LOOKUPS_PER_REQUEST;
  }
  return arm;
}

const METRICS = ['delivery', 'errorRate', 'latencyMeanMs', 'cacheHitRate'] as const;
type Metric = (typeof METRICS)[number];

function compare(t: Arm, c: Arm, users: number, rhoSquared: number): Record<Metric, GuardrailComparison> {
  const ratio = (arm: Arm, numerators: Float64Array) => ({ numerators: numerators.subarray(0, users), denominators: arm.requests.subarray(0, users) });
  return {
    delivery: compareGuardrail(ratio(t, t.reported), ratio(c, c.reported), rhoSquared),
    errorRate: compareGuardrail(ratio(t, t.errors), ratio(c, c.errors), rhoSquared),
    latencyMeanMs: compareGuardrail(ratio(t, t.durationMsSum), ratio(c, c.durationMsSum), rhoSquared),
    cacheHitRate: compareGuardrail(
      { numerators: t.cacheHits.subarray(0, users), denominators: t.cacheLookups.subarray(0, users) },
      { numerators: c.cacheHits.subarray(0, users), denominators: c.cacheLookups.subarray(0, users) },
      rhoSquared,
    ),
  };
}

const sum = (values: Float64Array) => values.reduce((a, b) => a + b, 0);

describe(`${EXPERIMENTS} simulated A/A experiments, ${USERS_PER_ARM.toLocaleString('en-US')} users per arm of mixed propensities`, () => {
  const rhoSquared = sequentialRhoSquared(GUARDRAIL_ALPHA, 2 * 5_000);
  const random = seededRandom(20261207);
  const cacheRandom = seededRandom(20261208);
  const once: Record<Metric, number> = { delivery: 0, errorRate: 0, latencyMeanMs: 0, cacheHitRate: 0 };
  const watched: Record<Metric, number> = { delivery: 0, errorRate: 0, latencyMeanMs: 0, cacheHitRate: 0 };
  const requestLevel = { delivery: 0, errorRate: 0, cacheHitRate: 0 };
  for (let e = 0; e < EXPERIMENTS; e += 1) {
    const control = simulateArm(random, cacheRandom);
    const treatment = simulateArm(random, cacheRandom);
    const alarmed = new Set<Metric>();
    for (let users = LOOK_EVERY; users <= USERS_PER_ARM; users += LOOK_EVERY) {
      const result = compare(treatment, control, users, rhoSquared);
      for (const metric of METRICS) if (result[metric].alarm) alarmed.add(metric);
      if (users === USERS_PER_ARM) for (const metric of METRICS) if ((result[metric].fixedHorizonPValue ?? 1) < GUARDRAIL_ALPHA) once[metric] += 1;
    }
    for (const metric of alarmed) watched[metric] += 1;
    if (twoProportionP(sum(treatment.reported), sum(treatment.requests), sum(control.reported), sum(control.requests)) < GUARDRAIL_ALPHA) requestLevel.delivery += 1;
    if (twoProportionP(sum(treatment.errors), sum(treatment.requests), sum(control.errors), sum(control.requests)) < GUARDRAIL_ALPHA) requestLevel.errorRate += 1;
    if (twoProportionP(sum(treatment.cacheHits), sum(treatment.cacheLookups), sum(control.cacheHits), sum(control.cacheLookups)) < GUARDRAIL_ALPHA) requestLevel.cacheHitRate += 1;
  }
  const rate = (count: number) => count / EXPERIMENTS;
  const threeSd = 3 * Math.sqrt((GUARDRAIL_ALPHA * (1 - GUARDRAIL_ALPHA)) / EXPERIMENTS);

  it.each(METRICS)('%s, user as the unit, read once: alarms at its nominal 5 % (± 3 SD)', (metric) => {
    console.log(`${metric}: once ${(rate(once[metric]) * 100).toFixed(1)} %, watched ${(rate(watched[metric]) * 100).toFixed(1)} %`);
    expect(Math.abs(rate(once[metric]) - GUARDRAIL_ALPHA)).toBeLessThanOrEqual(threeSd);
  });

  it.each(METRICS)('%s, always valid, watched at every look: alarms in at most 5 % of experiments', (metric) => {
    expect(rate(watched[metric])).toBeLessThanOrEqual(GUARDRAIL_ALPHA);
  });

  it('the request-level tests (requests as independent) alarm far more often on the same data', () => {
    console.log(
      `request-level: delivery ${(rate(requestLevel.delivery) * 100).toFixed(1)} %, errors ${(rate(requestLevel.errorRate) * 100).toFixed(1)} %, cache (lookups as units) ${(rate(requestLevel.cacheHitRate) * 100).toFixed(1)} %`,
    );
    expect(rate(requestLevel.delivery)).toBeGreaterThan(0.15);
    expect(rate(requestLevel.errorRate)).toBeGreaterThan(0.15);
    expect(rate(requestLevel.cacheHitRate)).toBeGreaterThan(0.15);
  });
});

const QUANTILE_EXPERIMENTS = 200;
const QUANTILE_USERS_PER_ARM = 2_000;
const QUANTILE_LOOK_EVERY = 500;

/** Each user's request durations: a latency level of their own, heavy users with many requests. */
function simulateDurations(random: () => number): Float64Array[] {
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const users: Float64Array[] = [];
  for (let u = 0; u < QUANTILE_USERS_PER_ARM; u += 1) {
    const requests = random() < HEAVY_USERS ? 20 + Math.floor(random() * 81) : 1 + Math.floor(-Math.log(1 - random()) * 2);
    const level = MEDIAN_LATENCY_MS * Math.exp(USER_LATENCY_SIGMA * normal());
    const durations = new Float64Array(requests);
    for (let r = 0; r < requests; r += 1) durations[r] = level * Math.exp(REQUEST_LATENCY_SIGMA * normal());
    users.push(durations);
  }
  return users;
}

function arm(users: readonly Float64Array[], count: number): ArmDurations {
  const perUser = users.slice(0, count);
  const sorted = new Float64Array(perUser.reduce((a, d) => a + d.length, 0));
  let offset = 0;
  for (const durations of perUser) {
    sorted.set(durations, offset);
    offset += durations.length;
  }
  return { sorted: sorted.sort(), perUser };
}

/** The percentile test with requests as independent units: σ_F = √(q(1 − q)/requests), the same Woodruff step. */
function requestLevelP(t: ArmDurations, c: ArmDurations, q: number): number {
  const se = (a: ArmDurations) => {
    const spread = 1.959964 * Math.sqrt((q * (1 - q)) / a.sorted.length);
    return (percentile(a.sorted, Math.min(1, q + spread)) - percentile(a.sorted, Math.max(0, q - spread))) / (2 * 1.959964);
  };
  return twoSidedP((percentile(t.sorted, q) - percentile(c.sorted, q)) / Math.hypot(se(t), se(c)));
}

describe(`${QUANTILE_EXPERIMENTS} simulated A/A experiments: latency p50 and p95 with the user as the unit`, () => {
  const rhoSquared = sequentialRhoSquared(GUARDRAIL_ALPHA, 2 * 5_000);
  const random = seededRandom(20261208);
  const quantiles = [0.5, 0.95] as const;
  const once = [0, 0];
  const watched = [0, 0];
  const requestLevel = [0, 0];
  for (let e = 0; e < QUANTILE_EXPERIMENTS; e += 1) {
    const control = simulateDurations(random);
    const treatment = simulateDurations(random);
    const alarmed = [false, false];
    for (let users = QUANTILE_LOOK_EVERY; users <= QUANTILE_USERS_PER_ARM; users += QUANTILE_LOOK_EVERY) {
      const t = arm(treatment, users);
      const c = arm(control, users);
      quantiles.forEach((q, i) => {
        const result = compareQuantileGuardrail(t, c, q, rhoSquared);
        if (result.alarm) alarmed[i] = true;
        if (users === QUANTILE_USERS_PER_ARM) {
          if ((result.fixedHorizonPValue ?? 1) < GUARDRAIL_ALPHA) once[i]! += 1;
          if (requestLevelP(t, c, q) < GUARDRAIL_ALPHA) requestLevel[i]! += 1;
        }
      });
    }
    alarmed.forEach((a, i) => {
      if (a) watched[i]! += 1;
    });
  }
  const rate = (count: number) => count / QUANTILE_EXPERIMENTS;
  const threeSd = 3 * Math.sqrt((GUARDRAIL_ALPHA * (1 - GUARDRAIL_ALPHA)) / QUANTILE_EXPERIMENTS);

  it.each([
    { name: 'p50', i: 0 },
    { name: 'p95', i: 1 },
  ])('$name: read once, alarms at its nominal 5 % (± 3 SD); watched, at most 5 %; requests as units, far more', ({ i }) => {
    console.log(`p${quantiles[i]! * 100}: once ${(rate(once[i]!) * 100).toFixed(1)} %, watched ${(rate(watched[i]!) * 100).toFixed(1)} %, request-level ${(rate(requestLevel[i]!) * 100).toFixed(1)} %`);
    expect(Math.abs(rate(once[i]!) - GUARDRAIL_ALPHA)).toBeLessThanOrEqual(threeSd);
    expect(rate(watched[i]!)).toBeLessThanOrEqual(GUARDRAIL_ALPHA);
    expect(rate(requestLevel[i]!)).toBeGreaterThan(0.15);
  });
});
