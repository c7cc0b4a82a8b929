import { guardBaggage, type BaggageGuardConfig } from '../../../common/src/baggage-guard.js';
import {
  assignUser,
  cohortOf,
  COHORT_BAGGAGE_KEY,
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
}

/** Experiments, assignment and the baggage rules, as the HTTP layer uses them. */
export class ExperimentService {
  readonly experiments: readonly ExperimentDefinition[];
  private readonly guard: BaggageGuardConfig;

  constructor(private readonly file: ExperimentsFile) {
    this.experiments = file.experiments;
    const running = file.experiments.filter((e) => e.status === 'running').map((e) => e.baggageKey);
    this.guard = { allowedKeys: new Set([...running, COHORT_BAGGAGE_KEY]), maxItems: file.baggage.maxItems };
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
   */
  visitorContext(
    userId: string | undefined,
    inbound: Iterable<readonly [string, string]>,
    forced: Readonly<Record<string, string>> = {},
  ): VisitorExperimentContext {
    const guarded = guardBaggage(inbound, this.guard).entries;
    if (userId === undefined) return { baggage: guarded, assignment: undefined, mismatchedKeys: [] };
    const assignment = this.assign(userId, forced);
    const mismatchedKeys = Object.keys(guarded).filter((key) => guarded[key] !== assignment.baggage[key]);
    return { baggage: { ...assignment.baggage }, assignment, mismatchedKeys };
  }

  /** Low-cardinality metric attributes: every running experiment's key, `unknown` when absent. */
  metricAttributes(baggage: Readonly<Record<string, string>>): Record<string, string> {
    return experimentMetricAttributes(this.experiments, baggage);
  }
}
