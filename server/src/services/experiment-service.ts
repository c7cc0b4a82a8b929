import { guardBaggage, type BaggageGuardConfig } from '../core/baggage-guard.js';
import {
  assignUser,
  cohortOf,
  COHORT_BAGGAGE_KEY,
  experimentMetricAttributes,
  type Assignment,
  type ExperimentDefinition,
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
  private readonly guard: BaggageGuardConfig;

  constructor(readonly experiments: readonly ExperimentDefinition[]) {
    const running = experiments.filter((e) => e.status === 'running').map((e) => e.baggageKey);
    this.guard = { allowedKeys: new Set([...running, COHORT_BAGGAGE_KEY]) };
  }

  /** True for keys that may travel in baggage and be copied onto spans. */
  readonly isAllowedBaggageKey = (key: string): boolean => this.guard.allowedKeys.has(key);

  assign(userId: string): Assignment {
    return assignUser(userId, this.experiments, cohortOf(userId));
  }

  /**
   * Combines inbound (untrusted) baggage with the server's assignment: unknown keys are
   * dropped, the assignment wins, and disagreements are reported rather than believed.
   */
  visitorContext(userId: string | undefined, inbound: Iterable<readonly [string, string]>): VisitorExperimentContext {
    const guarded = guardBaggage(inbound, this.guard).entries;
    if (userId === undefined) return { baggage: guarded, assignment: undefined, mismatchedKeys: [] };
    const assignment = this.assign(userId);
    const mismatchedKeys = Object.keys(guarded).filter((key) => guarded[key] !== assignment.baggage[key]);
    return { baggage: { ...assignment.baggage }, assignment, mismatchedKeys };
  }

  /** Low-cardinality metric attributes: every experiment key, `unknown` when absent. */
  metricAttributes(baggage: Readonly<Record<string, string>>): Record<string, string> {
    return experimentMetricAttributes(this.experiments, baggage);
  }
}
