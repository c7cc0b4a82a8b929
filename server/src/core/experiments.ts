import { assignVariant } from './assignment.js';

/** One A/B experiment and how its assignment travels in baggage. */
export interface ExperimentDefinition {
  /** Stable key hashed into the assignment, e.g. `rec_algorithm_v3`. */
  readonly key: string;
  /** Baggage entry and span attribute that carry the variant, e.g. `experiment.rec_algorithm`. */
  readonly baggageKey: string;
  /** Variant names; the first is the control. */
  readonly variants: readonly string[];
  readonly status: 'running' | 'concluded';
  readonly description: string;
}

/** The two experiments of the seed article, shipped as defaults. */
export const DEFAULT_EXPERIMENTS: readonly ExperimentDefinition[] = [
  {
    key: 'rec_algorithm_v3',
    baggageKey: 'experiment.rec_algorithm',
    variants: ['control', 'collaborative', 'hybrid'],
    status: 'running',
    description: 'Which recommendation algorithm fills the rail',
  },
  {
    key: 'ranking_boost_v2',
    baggageKey: 'experiment.ranking_boost',
    variants: ['control', 'recency_boost'],
    status: 'running',
    description: 'Whether fresh articles are boosted in the ranking',
  },
];

/** Baggage key for the visitor's cohort, the one non-experiment key allowed in baggage. */
export const COHORT_BAGGAGE_KEY = 'user.cohort';

/** A visitor's variants, keyed by experiment and by baggage key. */
export interface Assignment {
  readonly experiments: Readonly<Record<string, string>>;
  readonly baggage: Readonly<Record<string, string>>;
}

/** Assigns a user to every running experiment and adds the cohort to the baggage. */
export function assignUser(
  userId: string,
  experiments: readonly ExperimentDefinition[],
  cohort: string,
): Assignment {
  const byKey: Record<string, string> = {};
  const baggage: Record<string, string> = {};
  for (const experiment of experiments) {
    if (experiment.status !== 'running') continue;
    const variant = assignVariant(userId, experiment);
    byKey[experiment.key] = variant;
    baggage[experiment.baggageKey] = variant;
  }
  baggage[COHORT_BAGGAGE_KEY] = cohort;
  return { experiments: byKey, baggage };
}

/** Prefix of the random ids browsers make up for visitors who are not signed in. */
export const ANONYMOUS_ID_PREFIX = 'anon-';

/**
 * A coarse, non-personal cohort for a visitor: `anonymous` for browser-generated ids,
 * `registered` otherwise.
 */
export function cohortOf(userId: string): string {
  return userId.startsWith(ANONYMOUS_ID_PREFIX) ? 'anonymous' : 'registered';
}

/** Metric attributes for a set of baggage entries: every experiment key, `unknown` when absent. */
export function experimentMetricAttributes(
  experiments: readonly ExperimentDefinition[],
  baggage: Readonly<Record<string, string>>,
): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const experiment of experiments) {
    attributes[experiment.baggageKey] = baggage[experiment.baggageKey] ?? 'unknown';
  }
  return attributes;
}
