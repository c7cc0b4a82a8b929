/* eslint-disable no-loss-of-precision -- coefficients are quoted as published; rounding them to doubles is intended */
/**
 * The statistics of the analysis, every export a pure function: ratio metrics with the user
 * as the unit (delta method), normal tests, Holm adjustment, chi-square goodness of fit,
 * Mann-Whitney U, and percentiles. Checked against numpy/scipy in the tests.
 */

/** z for a two-sided 95% interval. */
export const Z_95 = 1.959964;

/** Standard normal CDF (Cody's rational approximations through erfc; |error| < 1e-14). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** Complementary error function (W. J. Cody's algorithm, as in most libms). */
export function erfc(x: number): number {
  const ax = Math.abs(x);
  let result: number;
  if (ax < 0.5) {
    const t = x * x;
    const top = (((0.185777706184603153 * t + 3.16112374387056560) * t + 113.864154151050156) * t + 377.485237685302021) * t + 3209.37758913846947;
    const bottom = (((t + 23.6012909523441209) * t + 244.024637934444173) * t + 1282.61652607737228) * t + 2844.23683343917062;
    return 1 - (x * top) / bottom;
  }
  if (ax < 4) {
    // Cody's middle range: numerator and denominator by Horner's rule, leading terms first.
    const c = [5.64188496988670089e-1, 8.88314979438837594, 66.1191906371416295, 298.635138197400131, 881.95222124176909, 1712.04761263407058, 2051.07837782607147, 1230.33935479799725, 2.15311535474403846e-8];
    const d = [15.7449261107098347, 117.693950891312499, 537.181101862009858, 1621.38957456669019, 3290.79923573345963, 4362.61909014324716, 3439.36767414372164, 1230.33935480374942];
    let top = c[8]! * ax;
    let bottom = ax;
    for (let i = 0; i < 7; i += 1) {
      top = (top + c[i]!) * ax;
      bottom = (bottom + d[i]!) * ax;
    }
    result = (Math.exp(-ax * ax) * (top + c[7]!)) / (bottom + d[7]!);
  } else {
    const z = 1 / (ax * ax);
    const top = ((((1.63153871373020978e-2 * z + 3.05326634961232344e-1) * z + 3.60344899949804439e-1) * z + 1.25781726111229246e-1) * z + 1.60837851487422766e-2) * z + 6.58749161529837803e-4;
    const bottom = ((((z + 2.56852019228982242) * z + 1.87295284992346725) * z + 5.27905102951428412e-1) * z + 6.05183413124413191e-2) * z + 2.33520497626869185e-3;
    result = (Math.exp(-ax * ax) / ax) * (1 / Math.sqrt(Math.PI) - (z * top) / bottom);
  }
  return x < 0 ? 2 - result : result;
}

/**
 * Standard normal quantile Φ⁻¹(p): Acklam's rational approximation (relative error 1.15e-9),
 * refined by one Halley step on Cody's erfc, which brings it to about 1e-15.
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) return Number.NaN;
  if (p === 0) return Number.NEGATIVE_INFINITY;
  if (p === 1) return Number.POSITIVE_INFINITY;
  // 1 − p is exact for p ≥ 0.5; in the lower tail the refinement below loses nothing to cancellation.
  if (p > 0.5) return -normalQuantile(1 - p);
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  let x: number;
  if (p < low || p > 1 - low) {
    const q = Math.sqrt(-2 * Math.log(p < low ? p : 1 - p));
    x = (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
    if (p > 1 - low) x = -x;
  } else {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
  }
  const e = 0.5 * erfc(-x / Math.SQRT2) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/** Two-sided p-value of a z statistic. */
export function twoSidedP(z: number): number {
  if (!Number.isFinite(z)) return Number.isNaN(z) ? Number.NaN : 0;
  return Math.min(1, 2 * normalCdf(-Math.abs(z)));
}

/**
 * Holm step-down adjustment; the result is in the input's order. Undefined p-values (NaN)
 * stay undefined and do not count among the hypotheses.
 */
export function holm(pValues: readonly number[]): number[] {
  const order = pValues
    .map((p, i) => ({ p, i }))
    .filter(({ p }) => !Number.isNaN(p))
    .sort((a, b) => a.p - b.p);
  const adjusted = pValues.map(() => Number.NaN);
  let running = 0;
  order.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (order.length - rank) * p));
    adjusted[i] = running;
  });
  return adjusted;
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error about 1e-15). */
export function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9): ample precision for p-values.
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i += 1) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized upper incomplete gamma Q(s, x), by series or continued fraction (Numerical Recipes). */
export function gammaQ(s: number, x: number): number {
  if (x <= 0) return 1;
  if (x < s + 1) {
    let sum = 1 / s;
    let term = sum;
    for (let n = 1; n < 1000; n += 1) {
      term *= x / (s + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return 1 - sum * Math.exp(-x + s * Math.log(x) - logGamma(s));
  }
  const tiny = 1e-300;
  let b = x + 1 - s;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i += 1) {
    const an = -i * (i - s);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.exp(-x + s * Math.log(x) - logGamma(s)) * h;
}

/** Survival function of the chi-square distribution. */
export function chiSquareSf(statistic: number, degreesOfFreedom: number): number {
  if (statistic === Number.POSITIVE_INFINITY) return 0;
  return gammaQ(degreesOfFreedom / 2, statistic / 2);
}

/** Chi-square goodness of fit of observed counts against expected shares (which are normalized). */
export function chiSquareGoodnessOfFit(observed: readonly number[], expectedShares: readonly number[]): { statistic: number; pValue: number } {
  const total = observed.reduce((a, b) => a + b, 0);
  const shareSum = expectedShares.reduce((a, b) => a + b, 0);
  if (total === 0 || observed.length < 2) return { statistic: 0, pValue: 1 };
  let statistic = 0;
  observed.forEach((o, i) => {
    const expected = (total * expectedShares[i]!) / shareSum;
    statistic += ((o - expected) * (o - expected)) / expected;
  });
  return { statistic, pValue: chiSquareSf(statistic, observed.length - 1) };
}

/** A ratio metric Σc / Σn over units (users) and its delta-method variance. */
export interface RatioEstimate {
  /** Units (users). */
  readonly k: number;
  readonly numerator: number;
  readonly denominator: number;
  /** R = Σc / Σn (NaN without denominator). */
  readonly ratio: number;
  /** Var(R) = (s_c² − 2R·s_cn + R²·s_n²) / (k·n̄²), sample (co)variances; NaN for k < 2. */
  readonly variance: number;
  readonly ci95: readonly [number, number];
}

/** The delta-method ratio estimate with the user as the unit. */
export function ratioEstimate(numerators: ArrayLike<number>, denominators: ArrayLike<number>): RatioEstimate {
  const k = numerators.length;
  let sumC = 0;
  let sumN = 0;
  for (let i = 0; i < k; i += 1) {
    sumC += numerators[i]!;
    sumN += denominators[i]!;
  }
  const ratio = sumN > 0 ? sumC / sumN : Number.NaN;
  if (k < 2 || sumN === 0) return { k, numerator: sumC, denominator: sumN, ratio, variance: Number.NaN, ci95: [Number.NaN, Number.NaN] };
  const meanC = sumC / k;
  const meanN = sumN / k;
  let ssC = 0;
  let ssN = 0;
  let ssCN = 0;
  for (let i = 0; i < k; i += 1) {
    const dc = numerators[i]! - meanC;
    const dn = denominators[i]! - meanN;
    ssC += dc * dc;
    ssN += dn * dn;
    ssCN += dc * dn;
  }
  const varC = ssC / (k - 1);
  const varN = ssN / (k - 1);
  const covCN = ssCN / (k - 1);
  const variance = Math.max(0, (varC - 2 * ratio * covCN + ratio * ratio * varN) / (k * meanN * meanN));
  const half = Z_95 * Math.sqrt(variance);
  return { k, numerator: sumC, denominator: sumN, ratio, variance, ci95: [ratio - half, ratio + half] };
}

/** Per-unit sums a ratio estimate needs: k units, Σc, Σn, Σc², Σn², Σc·n. */
export interface RatioMoments {
  readonly k: number;
  readonly sumC: number;
  readonly sumN: number;
  readonly sumC2: number;
  readonly sumN2: number;
  readonly sumCN: number;
}

/** Ratio moments being summed. */
export type RatioSums = { -readonly [K in keyof RatioMoments]: RatioMoments[K] };

export function emptyRatioSums(): RatioSums {
  return { k: 0, sumC: 0, sumN: 0, sumC2: 0, sumN2: 0, sumCN: 0 };
}

/** Adds one unit (numerator `c`, denominator `n`) to `m`. */
export function addRatioUnit(m: RatioSums, c: number, n: number): void {
  m.k += 1;
  m.sumC += c;
  m.sumN += n;
  m.sumC2 += c * c;
  m.sumN2 += n * n;
  m.sumCN += c * n;
}

/** Adds the units summed in `more` to `m`. */
export function addRatioSums(m: RatioSums, more: RatioMoments): void {
  m.k += more.k;
  m.sumC += more.sumC;
  m.sumN += more.sumN;
  m.sumC2 += more.sumC2;
  m.sumN2 += more.sumN2;
  m.sumCN += more.sumCN;
}

/**
 * The same delta-method estimate as `ratioEstimate`, from per-unit sums instead of the units:
 * what a store can aggregate (or a simulation accumulate) without listing every user. The
 * sample (co)variances come from the sums, e.g. s_c² = (Σc² − (Σc)²/k)/(k − 1).
 */
export function ratioEstimateFromMoments(m: RatioMoments): RatioEstimate {
  const { k, sumC, sumN } = m;
  const ratio = sumN > 0 ? sumC / sumN : Number.NaN;
  if (k < 2 || sumN === 0) return { k, numerator: sumC, denominator: sumN, ratio, variance: Number.NaN, ci95: [Number.NaN, Number.NaN] };
  const varC = (m.sumC2 - (sumC * sumC) / k) / (k - 1);
  const varN = (m.sumN2 - (sumN * sumN) / k) / (k - 1);
  const covCN = (m.sumCN - (sumC * sumN) / k) / (k - 1);
  const meanN = sumN / k;
  const variance = Math.max(0, (varC - 2 * ratio * covCN + ratio * ratio * varN) / (k * meanN * meanN));
  const half = Z_95 * Math.sqrt(variance);
  return { k, numerator: sumC, denominator: sumN, ratio, variance, ci95: [ratio - half, ratio + half] };
}

/** A treatment against the control: difference, its interval, relative lift and p-value. */
export interface Comparison {
  readonly diff: number;
  readonly diffCi95: readonly [number, number];
  readonly relativeLift: number;
  readonly pValue: number;
}

export function compareRatios(treatment: RatioEstimate, control: RatioEstimate): Comparison {
  const diff = treatment.ratio - control.ratio;
  const se = Math.sqrt(treatment.variance + control.variance);
  const pValue = se > 0 ? twoSidedP(diff / se) : Number.NaN;
  return {
    diff,
    diffCi95: [diff - Z_95 * se, diff + Z_95 * se],
    relativeLift: control.ratio > 0 ? diff / control.ratio : Number.NaN,
    pValue,
  };
}

/** Two-proportion z-test (pooled), e.g. error rates: two-sided p-value. */
export function twoProportionP(successesA: number, totalA: number, successesB: number, totalB: number): number {
  if (totalA === 0 || totalB === 0) return Number.NaN;
  const pooled = (successesA + successesB) / (totalA + totalB);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / totalA + 1 / totalB));
  if (se === 0) return 1;
  return twoSidedP((successesA / totalA - successesB / totalB) / se);
}

function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/**
 * Mann-Whitney U (two-sided, normal approximation with tie correction and continuity
 * correction, as scipy's `mannwhitneyu(..., method="asymptotic")`). Ranks are found by
 * merging the two sorted samples, so large samples cost a sort at most.
 */
export function mannWhitneyP(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return Number.NaN;
  const x = sortedCopy(a);
  const y = sortedCopy(b);
  let i = 0;
  let j = 0;
  let rank = 0;
  let rankSumA = 0;
  let tieTerm = 0;
  while (i < n1 || j < n2) {
    const value = j >= n2 || (i < n1 && x[i]! <= y[j]!) ? x[i]! : y[j]!;
    let inA = 0;
    let inB = 0;
    while (i < n1 && x[i] === value) {
      inA += 1;
      i += 1;
    }
    while (j < n2 && y[j] === value) {
      inB += 1;
      j += 1;
    }
    const ties = inA + inB;
    const midRank = rank + (ties + 1) / 2;
    rankSumA += inA * midRank;
    tieTerm += ties * ties * ties - ties;
    rank += ties;
  }
  const u1 = rankSumA - (n1 * (n1 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const n = n1 + n2;
  const sd = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  if (sd === 0) return 1;
  const z = (Math.abs(u1 - mean) - 0.5) / sd;
  return Math.min(1, 2 * normalCdf(-Math.max(0, z)));
}

/** Percentile of sorted values with linear interpolation (numpy's default method). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0 || !(q >= 0 && q <= 1)) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}

/**
 * A percentile from histogram buckets, interpolating between bucket bounds on the lognormal
 * scale: ln(bound) against Φ⁻¹(share of values up to it), linearly. Latency is close to
 * lognormal, and for lognormal data these points lie on a straight line, so the estimate is
 * exact up to sampling noise however coarse the buckets (linear interpolation inside a bucket
 * that starts at 0 was 148 % off at p50 on such data). For any data it passes through the exact
 * share at every bound and is clamped to the bucket that holds the percentile, so it is never
 * worse than knowing the bucket. Below the first or above the last informative bound the
 * nearest line is extended. NaN without two bounds strictly inside the data (all values in one
 * bucket: the histogram cannot place the percentile more finely than that bucket).
 */
export function histogramPercentileLogNormal(bounds: readonly number[], counts: readonly number[], q: number): number {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0 || !(q > 0 && q < 1)) return Number.NaN;
  // Points (ln bound, Φ⁻¹(F)) with 0 < F < 1 and increasing F: the informative bounds.
  const logs: number[] = [];
  const zs: number[] = [];
  let cumulative = 0;
  let previousShare = 0;
  let bucket = -1;
  for (let i = 0; i < bounds.length; i += 1) {
    cumulative += counts[i] ?? 0;
    if (bucket < 0 && cumulative >= q * total) bucket = i;
    const share = cumulative / total;
    // An empty bucket repeats the share of the bound before it: one point per distinct share.
    if (share > previousShare && share < 1 && bounds[i]! > 0) {
      logs.push(Math.log(bounds[i]!));
      zs.push(normalQuantile(share));
      previousShare = share;
    }
  }
  if (bucket < 0) bucket = bounds.length;
  if (zs.length < 2) return Number.NaN;
  const target = normalQuantile(q);
  let i = 0;
  while (i < zs.length - 2 && target > zs[i + 1]!) i += 1;
  const estimate = Math.exp(logs[i]! + ((logs[i + 1]! - logs[i]!) * (target - zs[i]!)) / (zs[i + 1]! - zs[i]!));
  const low = bucket === 0 ? 0 : bounds[bucket - 1]!;
  const high = bucket < bounds.length ? bounds[bucket]! : Number.POSITIVE_INFINITY;
  return Math.min(high, Math.max(low, estimate));
}

/** A percentile estimated from histogram buckets, interpolating linearly inside the bucket. */
export function histogramPercentile(bounds: readonly number[], counts: readonly number[], q: number): number {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return Number.NaN;
  const target = q * total;
  let cumulative = 0;
  for (let i = 0; i < counts.length; i += 1) {
    const count = counts[i]!;
    if (cumulative + count >= target && count > 0) {
      const low = i === 0 ? 0 : bounds[i - 1]!;
      const high = i < bounds.length ? bounds[i]! : bounds[bounds.length - 1]!;
      return low + ((high - low) * (target - cumulative)) / count;
    }
    cumulative += count;
  }
  return bounds[bounds.length - 1] ?? Number.NaN;
}
