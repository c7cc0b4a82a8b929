import { guardBaggage, type BaggageGuardConfig } from '../../../common/src/baggage-guard.js';
import {
  assignUser,
  cohortOf,
  COHORT_BAGGAGE_KEY,
  COHORTS,
  experimentMetricAttributes,
  type Assignment,
  type ExperimentDefinition,
  type ExperimentsFile,
} from '../core/experiments.js';

/** A visitor's trusted experiment context for one request. */
export interface VisitorExperimentContext {
  /** The baggage the server stands behind: its own assignment when the visitor is known. */
  readonly baggage: Record<string, string>;
  /** The assignment, when the request named a visitor. */
  readonly assignment: Assignment | undefined;
  /** Allow-listed inbound keys whose value disagreed with the server's assignment. */
  readonly mismatchedKeys: readonly string[];
  /**
   * Without a visitor: the inbound entries that name a real variant of a running experiment
   * (or a real cohort). Not believed, not propagated; kept only to be shown as unverified.
   */
  readonly unverified: Readonly<Record<string, string>>;
}

/** Experiments, assignment and the baggage rules; `loadExperiments` hands it out as the `Experiments` interface. */
export class ExperimentService {
  readonly experiments: readonly ExperimentDefinition[];
  private readonly guard: BaggageGuardConfig;
  /** Baggage key → the values it may really have: a running experiment's variants, or the cohorts. */
  private readonly knownValues: ReadonlyMap<string, ReadonlySet<string>>;

  constructor(private readonly file: ExperimentsFile) {
    this.experiments = file.experiments;
    const running = file.experiments.filter((e) => e.status === 'running').map((e) => e.baggageKey);
    this.guard = { allowedKeys: new Set([...running, COHORT_BAGGAGE_KEY]), maxItems: file.baggage.maxItems };
    this.knownValues = new Map<string, ReadonlySet<string>>([
      ...file.experiments.filter((e) => e.status === 'running').map((e) => [e.baggageKey, new Set(e.variants)] as const),
      [COHORT_BAGGAGE_KEY, new Set<string>(COHORTS)],
    ]);
  }

  /** True for keys that may travel in baggage and be copied onto spans: running experiments' keys and the cohort. */
  readonly isAllowedBaggageKey = (key: string): boolean => this.guard.allowedKeys.has(key);

  /** Whether the QA query parameter may force variants (the file's `allowForcedVariantQuery`). */
  get forcedVariantQueryAllowed(): boolean {
    return this.file.allowForcedVariantQuery;
  }

  /** The visitor's assignment; `forced` is honoured only when the file allows the query parameter. */
  assign(userId: string, forced: Readonly<Record<string, string>> = {}): Assignment {
    const assignment = assignUser(userId, this.file, cohortOf(userId), this.file.allowForcedVariantQuery ? forced : {});
    const guarded = guardBaggage(Object.entries(assignment.baggage), this.guard);
    return { ...assignment, baggage: guarded.entries };
  }

  /** The variant the visitor experiences in the experiment carried under `baggageKey`, or undefined. */
  variantOf(assignment: Assignment, baggageKey: string): string | undefined {
    const experiment = this.experiments.find((e) => e.baggageKey === baggageKey);
    return experiment === undefined ? undefined : assignment.experiments[experiment.key];
  }

  /**
   * Combines inbound (untrusted) baggage with the server's assignment: unknown keys are
   * dropped, the assignment wins, and disagreements are reported rather than believed.
   * Without a visitor there is no assignment to stand behind: nothing inbound is believed.
   */
  visitorContext(
    userId: string | undefined,
    inbound: Iterable<readonly [string, string]>,
    forced: Readonly<Record<string, string>> = {},
  ): VisitorExperimentContext {
    const guarded = guardBaggage(inbound, this.guard).entries;
    if (userId === undefined) {
      const unverified = Object.fromEntries(Object.entries(guarded).filter(([key, value]) => this.knownValues.get(key)?.has(value) === true));
      return { baggage: {}, assignment: undefined, mismatchedKeys: [], unverified };
    }
    const assignment = this.assign(userId, forced);
    const mismatchedKeys = Object.keys(guarded).filter((key) => guarded[key] !== assignment.baggage[key]);
    return { baggage: { ...assignment.baggage }, assignment, mismatchedKeys, unverified: {} };
  }

  /** Low-cardinality metric attributes: every running experiment's key, `unknown` when absent. */
  metricAttributes(baggage: Readonly<Record<string, string>>): Record<string, string> {
    return experimentMetricAttributes(this.experiments, baggage);
  }
}
