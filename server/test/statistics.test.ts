import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  Z_95,
  chiSquareGoodnessOfFit,
  chiSquareSf,
  compareRatios,
  erfc,
  gammaQ,
  histogramPercentile,
  holm,
  mannWhitneyP,
  normalCdf,
  percentile,
  ratioEstimate,
  twoProportionP,
  twoSidedP,
} from '../src/core/statistics.js';

/** JSON has no NaN: the fixtures write undefined results as null. */
type Num = number | null;

interface UserColumns {
  readonly numerators: readonly number[];
  readonly denominators: readonly number[];
}

interface StatisticsFixtures {
  readonly specVersion: number;
  readonly generatedBy: string;
  readonly z95: number;
  readonly z975Exact: number;
  readonly normal: readonly { z: number; cdf: number; twoSidedP: number }[];
  readonly erfc: readonly { x: number; erfc: number }[];
  readonly chiSquareSf: readonly { statistic: number; df: number; sf: number }[];
  readonly gammaQ: readonly { s: number; x: number; q: number }[];
  readonly chiSquareGoodnessOfFit: readonly { observed: number[]; shares: number[]; statistic: number; pValue: number }[];
  readonly holm: readonly { pValues: number[]; adjusted: Num[] }[];
  readonly ratio: readonly (UserColumns & {
    label: string;
    k: number;
    numerator: number;
    denominator: number;
    ratio: Num;
    variance: Num;
    ci95: [Num, Num];
  })[];
  readonly comparison: readonly {
    label: string;
    treatment: UserColumns;
    control: UserColumns;
    diff: number;
    se: number;
    pValue: Num;
    diffCi95: [number, number];
    relativeLift: Num;
  }[];
  readonly twoProportion: readonly { successesA: number; totalA: number; successesB: number; totalB: number; pValue: number }[];
  readonly mannWhitney: readonly { label: string; a: number[]; b: number[]; pValue: number }[];
  readonly percentile: readonly { label: string; sorted: number[]; quantiles: { q: number; value: number }[] }[];
  readonly histogramPercentile: readonly { label: string; bounds: number[]; counts: number[]; quantiles: { q: number; value: number }[] }[];
}

/** The fixture format this test understands; bump both together. */
const SUPPORTED_SPEC_VERSION = 1;

/**
 * Relative tolerances. Closed-form statistics (sums, sample (co)variances, Holm, percentiles)
 * differ from numpy only by summation order: 1e-9. Anything through a special function
 * (erfc, the incomplete gamma, hence every p-value) is held to 1e-7, well above the 1e-14 of
 * Cody's erfc and the ~1e-13 of the Lanczos log-gamma, well below any error that would matter.
 */
const EXACT = 1e-9;
const SPECIAL = 1e-7;

const fixtures = JSON.parse(
  readFileSync(new URL('./fixtures/statistics-fixtures.json', import.meta.url), 'utf8'),
) as StatisticsFixtures;

/**
 * |actual − expected| ≤ tolerance · max(|expected|, floor). The floor gives quantities that can
 * sit near zero (a difference of two ratios) a scale; null expects NaN.
 */
function expectClose(actual: number, expected: Num, tolerance: number, what: string, floor = 0): void {
  if (expected === null) {
    expect(actual, what).toBeNaN();
    return;
  }
  const allowed = tolerance * Math.max(Math.abs(expected), floor);
  expect(Math.abs(actual - expected), `${what}: ${actual} vs reference ${expected}`).toBeLessThanOrEqual(allowed);
}

describe('statistics fixtures', () => {
  it(`are spec version ${SUPPORTED_SPEC_VERSION} from ${fixtures.generatedBy}`, () => {
    expect(fixtures.specVersion).toBe(SUPPORTED_SPEC_VERSION);
  });

  it('Z_95 is the 97.5% normal quantile to the six decimals it carries', () => {
    expect(Z_95).toBe(fixtures.z95);
    expect(Math.abs(Z_95 - fixtures.z975Exact)).toBeLessThan(5e-7);
  });
});

describe('normal distribution (scipy.stats.norm)', () => {
  it.each(fixtures.normal)('normalCdf($z) and twoSidedP($z)', ({ z, cdf, twoSidedP: p }) => {
    expectClose(normalCdf(z), cdf, SPECIAL, `normalCdf(${z})`);
    expectClose(twoSidedP(z), p, SPECIAL, `twoSidedP(${z})`);
  });

  it.each(fixtures.erfc)('erfc($x) (scipy.special.erfc)', ({ x, erfc: expected }) => {
    expectClose(erfc(x), expected, SPECIAL, `erfc(${x})`);
  });
});

describe('chi-square (scipy.stats.chi2, scipy.special.gammaincc, scipy.stats.chisquare)', () => {
  it.each(fixtures.chiSquareSf)('chiSquareSf($statistic, df $df)', ({ statistic, df, sf }) => {
    expectClose(chiSquareSf(statistic, df), sf, SPECIAL, `chiSquareSf(${statistic}, ${df})`);
  });

  it.each(fixtures.gammaQ)('gammaQ($s, $x)', ({ s, x, q }) => {
    expectClose(gammaQ(s, x), q, SPECIAL, `gammaQ(${s}, ${x})`);
  });

  it.each(fixtures.chiSquareGoodnessOfFit)('goodness of fit of $observed against shares $shares', ({ observed, shares, statistic, pValue }) => {
    const result = chiSquareGoodnessOfFit(observed, shares);
    expectClose(result.statistic, statistic, EXACT, 'statistic');
    expectClose(result.pValue, pValue, SPECIAL, 'p-value');
  });
});

describe('Holm adjustment (numpy, written out in the fixture script)', () => {
  it.each(fixtures.holm)('holm($pValues)', ({ pValues, adjusted }) => {
    const result = holm(pValues);
    expect(result).toHaveLength(adjusted.length);
    adjusted.forEach((expected, i) => expectClose(result[i]!, expected, EXACT, `adjusted[${i}]`));
  });
});

describe('ratio metrics, delta method (numpy np.cov ddof=1)', () => {
  it.each(fixtures.ratio)('ratioEstimate: $label', (c) => {
    const result = ratioEstimate(c.numerators, c.denominators);
    expect(result.k).toBe(c.k);
    expect(result.numerator).toBe(c.numerator);
    expect(result.denominator).toBe(c.denominator);
    expectClose(result.ratio, c.ratio, EXACT, 'ratio');
    expectClose(result.variance, c.variance, EXACT, 'variance');
    // The interval's bounds are on the ratio's scale, however small the half-width.
    const scale = Math.abs(c.ratio ?? 0);
    expectClose(result.ci95[0], c.ci95[0], EXACT, 'ci95 low', scale);
    expectClose(result.ci95[1], c.ci95[1], EXACT, 'ci95 high', scale);
  });

  it.each(fixtures.comparison)('compareRatios: $label', (c) => {
    const treatment = ratioEstimate(c.treatment.numerators, c.treatment.denominators);
    const control = ratioEstimate(c.control.numerators, c.control.denominators);
    const result = compareRatios(treatment, control);
    // A difference of ratios can be ~0; measure it against the ratios themselves.
    const scale = Math.max(Math.abs(treatment.ratio), Math.abs(control.ratio));
    expectClose(result.diff, c.diff, EXACT, 'diff', scale);
    expectClose(result.diffCi95[0], c.diffCi95[0], EXACT, 'diffCi95 low', scale);
    expectClose(result.diffCi95[1], c.diffCi95[1], EXACT, 'diffCi95 high', scale);
    expectClose((result.diffCi95[1] - result.diffCi95[0]) / (2 * Z_95), c.se, EXACT, 'standard error', scale);
    expectClose(result.relativeLift, c.relativeLift, EXACT, 'relative lift', 1);
    expectClose(result.pValue, c.pValue, SPECIAL, 'p-value');
  });
});

describe('two-proportion z-test (scipy.stats.chi2_contingency without Yates)', () => {
  it.each(fixtures.twoProportion)('$successesA/$totalA vs $successesB/$totalB', ({ successesA, totalA, successesB, totalB, pValue }) => {
    expectClose(twoProportionP(successesA, totalA, successesB, totalB), pValue, SPECIAL, 'p-value');
  });
});

describe('Mann-Whitney U (scipy.stats.mannwhitneyu, asymptotic, continuity)', () => {
  it.each(fixtures.mannWhitney)('$label', ({ a, b, pValue }) => {
    expectClose(mannWhitneyP(a, b), pValue, SPECIAL, 'p-value');
  });
});

describe('percentiles (numpy.percentile, linear)', () => {
  it.each(fixtures.percentile)('percentile: $label', ({ sorted, quantiles }) => {
    for (const { q, value } of quantiles) expectClose(percentile(sorted, q), value, EXACT, `q=${q}`);
  });

  it.each(fixtures.histogramPercentile)('histogramPercentile: $label', ({ bounds, counts, quantiles }) => {
    for (const { q, value } of quantiles) expectClose(histogramPercentile(bounds, counts, q), value, EXACT, `q=${q}`);
  });
});
