/**
 * A sample-ratio check that may be run on every refresh: the Dirichlet-multinomial sequential
 * test of Lindon & Malek ("Anytime-valid inference for multinomial count data", NeurIPS 2022).
 *
 * Under the null, users arrive in the variants with the configured shares p₀. The alternative
 * is a Dirichlet mixture over shares, centred on p₀ with concentration `concentration`. The
 * Bayes factor of the counts x (n users) is
 *   BF = [Γ(A) / Γ(A + n)] · Πᵢ [Γ(aᵢ + xᵢ) / Γ(aᵢ)] / Πᵢ p₀ᵢ^xᵢ,   aᵢ = concentration · p₀ᵢ, A = Σaᵢ,
 * a nonnegative martingale with mean 1 under the null (the multinomial coefficients cancel,
 * and the order in which users arrived does not matter). By Ville's inequality the chance
 * that 1/BF ever drops below α is at most α, however often it is computed.
 *
 * Pure; checked against an independent scipy implementation (make-sequential-fixtures.py).
 */
import { logGamma } from './statistics.js';

/**
 * Concentration of the Dirichlet alternative. The mixture spreads the shares by about
 * √(p(1 − p)/concentration) around the configured split: 1,000 centres it on imbalances of a
 * percentage point or two, the size a lost or double-counted slice of traffic makes, which is
 * what an SRM check is for. A larger value finds smaller imbalances, later.
 */
export const SRM_DIRICHLET_CONCENTRATION = 1_000;

/** ln BF of the counts against the configured shares (which are normalised). */
export function srmLogBayesFactor(counts: readonly number[], shares: readonly number[], concentration = SRM_DIRICHLET_CONCENTRATION): number {
  const shareSum = shares.reduce((a, b) => a + b, 0);
  let n = 0;
  let logMarginal = 0;
  let logNull = 0;
  counts.forEach((x, i) => {
    const p = shares[i]! / shareSum;
    const a = concentration * p;
    n += x;
    logMarginal += logGamma(a + x) - logGamma(a);
    if (x > 0) logNull += x * Math.log(p);
  });
  return logGamma(concentration) - logGamma(concentration + n) + logMarginal - logNull;
}

/**
 * The always-valid SRM p-value of the counts now: min(1, 1/BF). (The running minimum over
 * every earlier look would also be valid; the value from today's counts alone needs no
 * history and is never smaller.)
 */
export function srmSequentialPValue(counts: readonly number[], shares: readonly number[], concentration = SRM_DIRICHLET_CONCENTRATION): number {
  if (counts.length < 2 || counts.reduce((a, b) => a + b, 0) === 0) return 1;
  const logBf = srmLogBayesFactor(counts, shares, concentration);
  return logBf <= 0 ? 1 : Math.exp(-logBf);
}
