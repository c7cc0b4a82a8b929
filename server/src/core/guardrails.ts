/**
 * Guardrails: what a treatment does to the service, against the control, with the user as the
 * unit of analysis. Users are what the hash randomises, and one user's requests are not
 * independent (a slow device is slow every time, a blocked tracker never reports): a test that
 * counts requests as independent warns far too often. Each guardrail is a ratio metric over
 * users, Σ numerator / Σ denominator, with the delta-method variance (the same as CTR), and is
 * read through the always-valid normal-mixture boundary, so it too may be watched continuously.
 * Pure.
 */
import type { GuardrailComparison } from '../../../common/src/experiment-results.js';
import { alwaysValidPValue, confidenceSequenceHalfWidth, MIN_USERS_PER_ARM } from './sequential-statistics.js';
import { percentile, ratioEstimate, twoSidedP, type RatioEstimate } from './statistics.js';

export type { GuardrailComparison };

/**
 * A guardrail alarms (orange) when its always-valid p-value is below this. Per guardrail, not
 * corrected across them: a guardrail is a smoke alarm, and a missed regression costs more than a
 * second look; with four guardrails an A/A test alarms on some guardrail in at most ~20 %
 * of comparisons over its whole life, on each one in at most 5 %.
 */
export const GUARDRAIL_ALPHA = 0.05;

/** Per-user values a ratio guardrail reads: numerator and denominator per user. */
export interface UserRatio {
  readonly numerators: ArrayLike<number>;
  readonly denominators: ArrayLike<number>;
}

function finite(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

/**
 * A ratio guardrail of a treatment against the control: the difference of Σnum/Σden with the
 * user as the unit, its always-valid p-value and confidence sequence (ρ² from the experiment's
 * tuning size). Null figures while either arm has fewer than `MIN_USERS_PER_ARM` users.
 */
export function compareGuardrail(treatment: UserRatio, control: UserRatio, rhoSquared: number): GuardrailComparison {
  const t = ratioEstimate(treatment.numerators, treatment.denominators);
  const c = ratioEstimate(control.numerators, control.denominators);
  return guardrailComparison({ value: t.ratio, se: Math.sqrt(t.variance), k: t.k }, { value: c.ratio, se: Math.sqrt(c.variance), k: c.k }, rhoSquared);
}

/** One arm's estimate of a guardrail: its value, standard error and users. */
export interface ArmEstimate {
  readonly value: number;
  readonly se: number;
  readonly k: number;
}

/** The difference of two arms' estimates through the always-valid boundary (and the fixed-horizon test). */
function guardrailComparison(t: ArmEstimate, c: ArmEstimate, rhoSquared: number): GuardrailComparison {
  const diff = t.value - c.value;
  const base = { control: finite(c.value), treatment: finite(t.value), diff: finite(diff) };
  if (Math.min(t.k, c.k) < MIN_USERS_PER_ARM) return { ...base, diffCs: [null, null], pValue: null, fixedHorizonPValue: null, alarm: false };
  const se = Math.sqrt(t.se * t.se + c.se * c.se);
  const n = t.k + c.k;
  // A guardrail that never varies (no errors in either arm) has se 0: nothing to alarm about.
  const pValue = se > 0 ? alwaysValidPValue(diff, se, n, rhoSquared) : diff === 0 ? 1 : Number.NaN;
  const half = se > 0 ? confidenceSequenceHalfWidth(se, n, rhoSquared, GUARDRAIL_ALPHA) : 0;
  return {
    ...base,
    diffCs: [finite(diff - half), finite(diff + half)],
    pValue: finite(pValue),
    fixedHorizonPValue: se > 0 ? finite(twoSidedP(diff / se)) : null,
    alarm: Number.isFinite(pValue) && pValue < GUARDRAIL_ALPHA,
  };
}

/** One arm's request durations: all of them sorted, and each user's own. */
export interface ArmDurations {
  readonly sorted: ArrayLike<number>;
  readonly perUser: readonly ArrayLike<number>[];
}

/** z of the Woodruff interval that turns the spread of F̂(q̂) into a standard error of q̂. */
const WOODRUFF_Z = 1.959964;

/**
 * A percentile's standard error with the user as the unit (Deng, Knoblich & Lu, "Applying the
 * delta method in metric analytics", KDD 2018, §quantile metrics): the share of requests at or
 * below the percentile, F̂ = Σ below / Σ requests over users, is a ratio metric whose
 * delta-method variance counts each user once; its interval q ± z·σ_F maps through the
 * empirical quantiles to an interval for the percentile (Woodruff), and half its width over z
 * is the standard error. Requests of one user that are all slow count as one slow user.
 */
export function percentileWithError(arm: ArmDurations, q: number): ArmEstimate {
  const value = percentile(arm.sorted, q);
  const below: number[] = [];
  const requests: number[] = [];
  for (const durations of arm.perUser) {
    let count = 0;
    for (let i = 0; i < durations.length; i += 1) if (durations[i]! <= value) count += 1;
    below.push(count);
    requests.push(durations.length);
  }
  const [low, high] = woodruffLevels(q, ratioEstimate(below, requests));
  return percentileEstimate(value, percentile(arm.sorted, low), percentile(arm.sorted, high), arm.perUser.length);
}

/**
 * The levels of the Woodruff interval of the `q` percentile, from the share of requests at or
 * below it as a ratio over users (`percentileWithError`): q ∓ z·σ_F, within [0, 1]. A source that
 * computes percentiles itself (the ClickHouse SQL) reads its interval at these levels.
 */
export function woodruffLevels(q: number, share: RatioEstimate): [low: number, high: number] {
  const spread = WOODRUFF_Z * Math.sqrt(share.variance);
  return [Math.max(0, q - spread), Math.min(1, q + spread)];
}

/** A percentile's estimate from its value and the percentiles at its Woodruff levels, over `k` users. */
export function percentileEstimate(value: number, low: number, high: number, k: number): ArmEstimate {
  return { value, se: (high - low) / (2 * WOODRUFF_Z), k };
}

/**
 * A latency percentile (e.g. p95) of a treatment against the control: the difference of the
 * per-request percentiles, with a standard error that respects users as units (see
 * `percentileWithError`), read through the same always-valid boundary as the other guardrails.
 */
export function compareQuantileGuardrail(treatment: ArmDurations, control: ArmDurations, q: number, rhoSquared: number): GuardrailComparison {
  return compareQuantileEstimates(percentileWithError(treatment, q), percentileWithError(control, q), rhoSquared);
}

/** The same, from each arm's percentile estimate (`percentileWithError`, or a source's own). */
export function compareQuantileEstimates(treatment: ArmEstimate, control: ArmEstimate, rhoSquared: number): GuardrailComparison {
  return guardrailComparison(treatment, control, rhoSquared);
}
