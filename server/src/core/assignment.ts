import { createHash } from 'node:crypto';

/** An experiment as the assignment needs it: a key and its variants, in order. */
export interface AssignableExperiment {
  readonly key: string;
  readonly variants: readonly string[];
}

/**
 * The variant index for a user, exactly as `assign_experiment` in the seed article computes
 * it: SHA-256 of the UTF-8 string `${userId}:${experimentKey}`, read as an unsigned 256-bit
 * big-endian integer, modulo the number of variants.
 */
export function variantIndex(userId: string, experimentKey: string, variantCount: number): number {
  if (!Number.isInteger(variantCount) || variantCount < 1) {
    throw new RangeError(`variantCount is invalid, expected a positive integer (actual: ${variantCount})`);
  }
  const digest = createHash('sha256').update(`${userId}:${experimentKey}`, 'utf8').digest('hex');
  return Number(BigInt(`0x${digest}`) % BigInt(variantCount));
}

/** The variant a user gets in an experiment with equal weights. */
export function assignVariant(userId: string, experiment: AssignableExperiment): string {
  const variant = experiment.variants[variantIndex(userId, experiment.key, experiment.variants.length)];
  // variantIndex is always within range; the check satisfies noUncheckedIndexedAccess.
  if (variant === undefined) throw new RangeError(`experiment ${experiment.key} has no variants`);
  return variant;
}

/** 2^52: the fraction below keeps 52 bits, all a double can hold exactly. */
const FRACTION_BITS = 52n;
const FRACTION_SCALE = 2 ** 52;

/**
 * A uniform number in [0, 1) for a user and a salt: SHA-256 of the UTF-8 string
 * `${userId}:${salt}`, read as a big-endian integer, its low 52 bits divided by 2^52.
 */
export function unitHash(userId: string, salt: string): number {
  const digest = createHash('sha256').update(`${userId}:${salt}`, 'utf8').digest('hex');
  return Number(BigInt(`0x${digest}`) & ((1n << FRACTION_BITS) - 1n)) / FRACTION_SCALE;
}

/** True when every weight is the same, so the equal-weight formula applies unchanged. */
export function hasEqualWeights(weights: readonly number[] | undefined): boolean {
  return weights === undefined || weights.every((w) => w === weights[0]);
}

/**
 * The variant for a user with optional weights. Equal (or no) weights: exactly
 * `assignVariant`. Unequal weights: u = `unitHash(userId, experimentKey)` — the low 52 bits
 * of the same digest — and the variant is the first whose cumulative share exceeds u.
 */
export function assignWeightedVariant(
  userId: string,
  experiment: AssignableExperiment & { readonly weights?: readonly number[] },
): string {
  if (hasEqualWeights(experiment.weights)) return assignVariant(userId, experiment);
  const weights = experiment.weights!;
  const total = weights.reduce((sum, w) => sum + w, 0);
  const u = unitHash(userId, experiment.key) * total;
  let cumulative = 0;
  for (let i = 0; i < weights.length; i += 1) {
    cumulative += weights[i]!;
    if (u < cumulative) return experiment.variants[i]!;
  }
  // Floating-point rounding can leave u a hair above the last bound.
  return experiment.variants[experiment.variants.length - 1]!;
}
