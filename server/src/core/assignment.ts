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
