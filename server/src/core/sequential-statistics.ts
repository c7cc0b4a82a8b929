/**
 * Always-valid ("sequential") inference for a difference of two means: the normal-mixture
 * boundary of Robbins, in the asymptotic form of Waudby-Smith et al. (2023, "Time-uniform
 * central limit theory and asymptotic confidence sequences", eqs. 9, 155 and 161) and Howard
 * et al. (2021). It is the boundary GrowthBook implements in gbstats
 * (`sequential_rho`, `sequential_interval_halfwidth`, `sequential_p_value`) and, up to the
 * parametrisation of the mixture, Eppo's sequential intervals and Optimizely's mSPRT.
 *
 * A p-value and an interval from here stay valid however often they are looked at: the chance
 * that the p-value *ever* drops below α under no effect is at most α (asymptotically, as the
 * variance estimate settles). The price is a wider interval than a fixed-horizon one at the
 * planned size; the tuning size N* decides where along the experiment the sequence is
 * tightest.
 *
 * Every export is a pure function. Checked against an independent numpy implementation in
 * server/test/fixtures/make-sequential-fixtures.py.
 */

/** The tuning sample size N* used when an experiment does not plan one: 5,000 users per arm. */
export const DEFAULT_N_STAR = 10_000;

/**
 * ρ² of the normal mixture, tuned so that the boundary is tightest near N* observations
 * (Waudby-Smith et al. eq. 161, two-sided): ρ² = (−2 ln α + ln(1 − 2 ln α)) / N*.
 */
export function sequentialRhoSquared(alpha: number, nStar: number): number {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha is invalid, expected a number in (0, 1) (actual: ${alpha})`);
  if (!(nStar > 0)) throw new RangeError(`nStar is invalid, expected a positive number (actual: ${nStar})`);
  const minus2LogAlpha = -2 * Math.log(alpha);
  return (minus2LogAlpha + Math.log(1 + minus2LogAlpha)) / nStar;
}

/**
 * The always-valid two-sided p-value of an estimate `theta` with standard error `se` from `n`
 * observations (users in both arms): the reciprocal of the mixture e-value
 * e = exp(ρ²·θ²·n / (2·se²·(nρ² + 1))) / √(nρ² + 1), capped at 1. Computed in logs so that
 * overwhelming evidence gives a tiny p rather than an overflow. NaN when undefined.
 */
export function alwaysValidPValue(theta: number, se: number, n: number, rhoSquared: number): number {
  if (!(se > 0) || !(n >= 1) || !Number.isFinite(theta)) return Number.NaN;
  const nRho2 = n * rhoSquared + 1;
  const logE = (rhoSquared * theta * theta * n) / (2 * se * se * nRho2) - 0.5 * Math.log(nRho2);
  return logE <= 0 ? 1 : Math.exp(-logE);
}

/**
 * Half-width of the always-valid confidence sequence at error level `level` (the interval is
 * theta ± this): se·√n·√(2(nρ² + 1)·ln(√(nρ² + 1)/level) / (n²ρ²)). With the ρ² that the
 * p-value uses, the interval excludes 0 exactly when that p-value is below `level`.
 */
export function confidenceSequenceHalfWidth(se: number, n: number, rhoSquared: number, level: number): number {
  if (!(se > 0) || !(n >= 1)) return Number.NaN;
  const nRho2 = n * rhoSquared + 1;
  return se * Math.sqrt(n) * Math.sqrt((2 * nRho2 * Math.log(Math.sqrt(nRho2) / level)) / (n * n * rhoSquared));
}

/** Users per arm below which no comparison is made: the normal approximation is not yet trustworthy. */
export const MIN_USERS_PER_ARM = 100;

/** The always-valid comparison of a treatment's ratio metric with the control's. */
export interface SequentialComparison {
  /** Always-valid p-value of the absolute difference (unadjusted). */
  readonly pValue: number;
  /** Confidence sequence of the absolute difference at error level `csAlpha`. */
  readonly diffCs: readonly [number, number];
  /** Confidence sequence of the relative lift (delta method on R_t / R_c), same level. */
  readonly relativeLiftCs: readonly [number, number];
}

/** Ratio estimates as the comparison needs them: the ratio, its variance, and users. */
export interface ArmEstimate {
  readonly ratio: number;
  readonly variance: number;
  readonly k: number;
}

/**
 * Compares a treatment with the control: absolute difference θ = R_t − R_c with
 * se² = Var_t + Var_c over n = k_t + k_c users; the relative lift L = R_t/R_c − 1 with the
 * delta-method variance Var_t/R_c² + R_t²·Var_c/R_c⁴, its sequence over the same n.
 */
export function compareSequential(treatment: ArmEstimate, control: ArmEstimate, rhoSquared: number, csAlpha: number): SequentialComparison {
  const diff = treatment.ratio - control.ratio;
  const se = Math.sqrt(treatment.variance + control.variance);
  const n = treatment.k + control.k;
  const half = confidenceSequenceHalfWidth(se, n, rhoSquared, csAlpha);
  const rc = control.ratio;
  const lift = rc > 0 ? treatment.ratio / rc - 1 : Number.NaN;
  const liftSe = rc > 0 ? Math.sqrt(treatment.variance / (rc * rc) + (treatment.ratio * treatment.ratio * control.variance) / (rc * rc * rc * rc)) : Number.NaN;
  const liftHalf = confidenceSequenceHalfWidth(liftSe, n, rhoSquared, csAlpha);
  return {
    pValue: alwaysValidPValue(diff, se, n, rhoSquared),
    diffCs: [diff - half, diff + half],
    relativeLiftCs: [lift - liftHalf, lift + liftHalf],
  };
}

/**
 * Users per arm at which the confidence sequence's half-width first falls to `effect` (an
 * absolute difference), with the per-user variances of the two arms (`Var_v · k_v`) held at
 * today's values and equal arms. The smallest size at which a true difference of `effect`
 * could show as an interval excluding zero; `Infinity` when no size up to ten billion users
 * will do.
 */
export function usersPerArmToResolve(effect: number, perUserVarianceSum: number, rhoSquared: number, csAlpha: number): number {
  if (!(effect > 0) || !(perUserVarianceSum > 0)) return Number.NaN;
  const halfAt = (perArm: number) => confidenceSequenceHalfWidth(Math.sqrt(perUserVarianceSum / perArm), 2 * perArm, rhoSquared, csAlpha);
  const ceiling = 1e10;
  if (halfAt(ceiling) > effect) return Number.POSITIVE_INFINITY;
  let low = 1;
  let high = ceiling;
  if (halfAt(low) <= effect) return low;
  // The half-width falls monotonically with the size (as 1/√n, times a log): bisect.
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (halfAt(middle) <= effect) high = middle;
    else low = middle;
  }
  return high;
}
