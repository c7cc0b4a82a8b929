/**
 * The always-valid comparison and the sequential SRM test against reference vectors written by
 * an independent numpy/scipy implementation (fixtures/make-sequential-fixtures.py).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  alwaysValidPValue,
  compareSequential,
  confidenceSequenceHalfWidth,
  sequentialRhoSquared,
  usersPerArmToResolve,
} from '../src/core/sequential-statistics.js';
import { srmLogBayesFactor, srmSequentialPValue } from '../src/core/srm-sequential.js';
import { normalQuantile } from '../src/core/statistics.js';

interface Arm {
  ratio: number;
  variance: number;
  k: number;
}

interface SequentialFixtures {
  specVersion: number;
  generatedBy: string;
  reference: { alpha: number; nStar: number; theta: number; se: number; n: number; rhoSquared: number; pValue: number; halfWidth: number };
  rho: { alpha: number; nStar: number; rhoSquared: number }[];
  cases: { alpha: number; nStar: number; theta: number; se: number; n: number; level: number; pValue: number; halfWidth: number }[];
  comparisons: { label: string; treatment: Arm; control: Arm; alpha: number; nStar: number; level: number; pValue: number; diffCs: [number, number]; relativeLiftCs: [number, number] }[];
  usersToResolve: { effect: number; perUserVarianceSum: number; alpha: number; nStar: number; level: number; usersPerArm: number }[];
  srm: { counts: number[]; shares: number[]; concentration: number; logBayesFactor: number; pValue: number }[];
  normalQuantile: { p: number; z: number }[];
}

const SUPPORTED_SPEC_VERSION = 1;
/** Closed forms with exp and log only: agreement to 1e-9 relative. */
const EXACT = 1e-9;
/**
 * ln BF is a difference of log-gammas of size n·ln n (up to ~6e7 here), each good to ~1e-15
 * relative: the difference is good to ~1e-7 absolute, so p = exp(−ln BF) to ~1e-7 relative.
 */
const SRM_ABSOLUTE = 1e-6;

const fixtures = JSON.parse(readFileSync(new URL('./fixtures/sequential-fixtures.json', import.meta.url), 'utf8')) as SequentialFixtures;

function expectClose(actual: number, expected: number, tolerance: number, what: string, floor = 0): void {
  const allowed = tolerance * Math.max(Math.abs(expected), floor);
  expect(Math.abs(actual - expected), `${what}: ${actual} vs reference ${expected}`).toBeLessThanOrEqual(allowed);
}

describe('sequential fixtures', () => {
  it(`are spec version ${SUPPORTED_SPEC_VERSION} from ${fixtures.generatedBy}`, () => {
    expect(fixtures.specVersion).toBe(SUPPORTED_SPEC_VERSION);
  });
});

describe('always-valid p-value and confidence sequence (normal mixture, as in GrowthBook gbstats)', () => {
  it('the issue’s reference case: α 0.05, N* 10,000, θ 0.003, SE 0.001, N 40,000 → p 0.072933769, half-width 0.0031271141', () => {
    const rho2 = sequentialRhoSquared(0.05, 10_000);
    expect(Math.abs(alwaysValidPValue(0.003, 0.001, 40_000, rho2) - 0.072933769)).toBeLessThan(1e-9);
    expect(Math.abs(confidenceSequenceHalfWidth(0.001, 40_000, rho2, 0.05) - 0.0031271141)).toBeLessThan(1e-9);
    expectClose(rho2, fixtures.reference.rhoSquared, EXACT, 'rho²');
  });

  it.each(fixtures.rho)('ρ² for α $alpha, N* $nStar', ({ alpha, nStar, rhoSquared }) => {
    expectClose(sequentialRhoSquared(alpha, nStar), rhoSquared, EXACT, 'rho²');
  });

  it.each(fixtures.cases)('θ $theta, SE $se, n $n (α $alpha, N* $nStar, level $level)', ({ alpha, nStar, theta, se, n, level, pValue, halfWidth }) => {
    const rho2 = sequentialRhoSquared(alpha, nStar);
    expectClose(alwaysValidPValue(theta, se, n, rho2), pValue, EXACT, 'p-value');
    expectClose(confidenceSequenceHalfWidth(se, n, rho2, level), halfWidth, EXACT, 'half-width');
  });

  it('the interval at level a excludes zero exactly when the p-value is below a', () => {
    for (const { alpha, nStar, theta, se, n, level } of fixtures.cases) {
      const rho2 = sequentialRhoSquared(alpha, nStar);
      const p = alwaysValidPValue(theta, se, n, rho2);
      if (Math.abs(p - level) < 1e-12) continue;
      expect(Math.abs(theta) > confidenceSequenceHalfWidth(se, n, rho2, level), `θ ${theta}, p ${p}, level ${level}`).toBe(p < level);
    }
  });

  it.each(fixtures.comparisons)('compareSequential: $label', ({ treatment, control, alpha, nStar, level, pValue, diffCs, relativeLiftCs }) => {
    const result = compareSequential(treatment, control, sequentialRhoSquared(alpha, nStar), level);
    expectClose(result.pValue, pValue, EXACT, 'p-value');
    const scale = Math.max(treatment.ratio, control.ratio);
    expectClose(result.diffCs[0], diffCs[0], EXACT, 'diffCs low', scale);
    expectClose(result.diffCs[1], diffCs[1], EXACT, 'diffCs high', scale);
    expectClose(result.relativeLiftCs[0], relativeLiftCs[0], EXACT, 'relativeLiftCs low', 1);
    expectClose(result.relativeLiftCs[1], relativeLiftCs[1], EXACT, 'relativeLiftCs high', 1);
  });

  it.each(fixtures.usersToResolve)('users per arm until the half-width is $effect (variance sum $perUserVarianceSum)', ({ effect, perUserVarianceSum, alpha, nStar, level, usersPerArm }) => {
    expect(usersPerArmToResolve(effect, perUserVarianceSum, sequentialRhoSquared(alpha, nStar), level)).toBe(usersPerArm);
  });

  it('undefined inputs give NaN, not a verdict', () => {
    const rho2 = sequentialRhoSquared(0.05, 10_000);
    expect(alwaysValidPValue(0.01, 0, 1000, rho2)).toBeNaN();
    expect(alwaysValidPValue(Number.NaN, 0.01, 1000, rho2)).toBeNaN();
    expect(confidenceSequenceHalfWidth(Number.NaN, 1000, rho2, 0.05)).toBeNaN();
    expect(() => sequentialRhoSquared(0, 10_000)).toThrow(/alpha is invalid/);
    expect(() => sequentialRhoSquared(0.05, 0)).toThrow(/nStar is invalid/);
  });
});

describe('sequential SRM (Dirichlet-multinomial, Lindon & Malek 2022; scipy gammaln)', () => {
  it.each(fixtures.srm)('counts $counts against shares $shares (concentration $concentration)', ({ counts, shares, concentration, logBayesFactor, pValue }) => {
    expect(Math.abs(srmLogBayesFactor(counts, shares, concentration) - logBayesFactor)).toBeLessThanOrEqual(SRM_ABSOLUTE);
    const p = srmSequentialPValue(counts, shares, concentration);
    expect(Math.abs(p - pValue), `p ${p} vs ${pValue}`).toBeLessThanOrEqual(SRM_ABSOLUTE * Math.max(pValue, 1e-300) + 1e-300);
  });
});

describe('normal quantile (scipy.stats.norm.ppf)', () => {
  it.each(fixtures.normalQuantile)('normalQuantile($p)', ({ p, z }) => {
    expectClose(normalQuantile(p), z, 1e-12, `normalQuantile(${p})`, 1e-3);
  });

  it('is −∞ at 0, +∞ at 1 and NaN outside', () => {
    expect(normalQuantile(0)).toBe(Number.NEGATIVE_INFINITY);
    expect(normalQuantile(1)).toBe(Number.POSITIVE_INFINITY);
    expect(normalQuantile(1.5)).toBeNaN();
  });
});
