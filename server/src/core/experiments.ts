/** Assignment of a visitor to every experiment of the file: pure, no I/O. */
import { assignWeightedVariant, unitHash } from './assignment.js';
import type { ExperimentDefinition, ExperimentsFile } from './experiment-config.js';

export type { ExperimentDefinition, ExperimentsFile } from './experiment-config.js';

/** Baggage key for the visitor's cohort, the one non-experiment key allowed in baggage. */
export const COHORT_BAGGAGE_KEY = 'user.cohort';

/**
 * Why a visitor got a variant, in the feature-flag semantic conventions' terms
 * (`feature_flag.result.reason`): `split` by hash, `targeting_match` when forced for QA,
 * `static` for a concluded experiment's winner, `default` when not enrolled (allocation,
 * layer or holdout) and served the control.
 */
export type AssignmentReason = 'split' | 'targeting_match' | 'static' | 'default';

/** A visitor's variants. */
export interface Assignment {
  /** Experiment key → the variant the visitor experiences (control when not enrolled, the winner when concluded). */
  readonly experiments: Readonly<Record<string, string>>;
  /** Experiment key → why. */
  readonly reasons: Readonly<Record<string, AssignmentReason>>;
  /** What travels in baggage and is attributed: running experiments the visitor is enrolled in, and the cohort. */
  readonly baggage: Readonly<Record<string, string>>;
}

/** Prefix of the random ids browsers make up for visitors who are not signed in. */
export const ANONYMOUS_ID_PREFIX = 'anon-';

/** Every cohort `cohortOf` gives: the values `user.cohort` can have on the server's spans. */
export const COHORTS = ['registered', 'anonymous'] as const;

export type Cohort = (typeof COHORTS)[number];

/**
 * A coarse, non-personal cohort for a visitor: `anonymous` for browser-generated ids,
 * `registered` otherwise.
 */
export function cohortOf(userId: string): Cohort {
  return userId.startsWith(ANONYMOUS_ID_PREFIX) ? 'anonymous' : 'registered';
}

/** True when the visitor falls in the global holdout, which is enrolled in no experiment. */
export function inHoldout(userId: string, file: Pick<ExperimentsFile, 'holdout'>): boolean {
  return file.holdout !== undefined && unitHash(userId, `holdout:${file.holdout.key}`) < file.holdout.share;
}

/**
 * Whether a visitor is enrolled. Without a layer: u = unitHash(userId, `${key}:allocation`)
 * < allocation — a hash independent of the variant's. In a layer: u = unitHash(userId,
 * `layer:${layer}`) falls in the experiment's own `layerRange` [start, end); ranges of one
 * layer never overlap (the schema checks), so no visitor is in two, and since each range is
 * fixed in the file, concluding or resizing one experiment never moves another's visitors.
 */
function isEnrolled(userId: string, experiment: ExperimentDefinition): boolean {
  if (experiment.layer !== undefined && experiment.layerRange !== undefined) {
    const u = unitHash(userId, `layer:${experiment.layer}`);
    return u >= experiment.layerRange[0] && u < experiment.layerRange[1];
  }
  return experiment.allocation >= 1 || unitHash(userId, `${experiment.key}:allocation`) < experiment.allocation;
}

/**
 * Assigns a visitor to every experiment of the file. `forced` (experiment key → variant)
 * comes from the QA query parameter and is applied only when the caller allows it; the
 * file's own `forcedVariants` allow-list always applies.
 */
export function assignUser(
  userId: string,
  file: Pick<ExperimentsFile, 'experiments' | 'holdout'>,
  cohort: string,
  forced: Readonly<Record<string, string>> = {},
): Assignment {
  const experiments: Record<string, string> = {};
  const reasons: Record<string, AssignmentReason> = {};
  const baggage: Record<string, string> = {};
  const heldOut = inHoldout(userId, file);
  for (const experiment of file.experiments) {
    const control = experiment.variants[0]!;
    if (experiment.status === 'concluded') {
      experiments[experiment.key] = experiment.winner ?? control;
      reasons[experiment.key] = 'static';
      continue;
    }
    const forcedVariant = Object.hasOwn(experiment.forcedVariants, userId)
      ? experiment.forcedVariants[userId]
      : Object.hasOwn(forced, experiment.key)
        ? forced[experiment.key]
        : undefined;
    let variant: string;
    if (forcedVariant !== undefined && experiment.variants.includes(forcedVariant)) {
      variant = forcedVariant;
      reasons[experiment.key] = 'targeting_match';
    } else if (heldOut || !isEnrolled(userId, experiment)) {
      experiments[experiment.key] = control;
      reasons[experiment.key] = 'default';
      continue;
    } else {
      variant = assignWeightedVariant(userId, experiment);
      reasons[experiment.key] = 'split';
    }
    experiments[experiment.key] = variant;
    baggage[experiment.baggageKey] = variant;
  }
  baggage[COHORT_BAGGAGE_KEY] = cohort;
  return { experiments, reasons, baggage };
}

/**
 * Metric attributes: the baggage key of every running experiment, `unknown` when the visitor
 * is not enrolled (as in the seed article). Concluded experiments are no longer attributed.
 */
export function experimentMetricAttributes(
  experiments: readonly ExperimentDefinition[],
  baggage: Readonly<Record<string, string>>,
): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const experiment of experiments) {
    if (experiment.status === 'running') attributes[experiment.baggageKey] = baggage[experiment.baggageKey] ?? 'unknown';
  }
  return attributes;
}
