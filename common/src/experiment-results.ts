/**
 * The results JSON of `GET /api/experiments/:key/results`, declared once: the analysis
 * (server/src/core/experiment-analysis.ts) builds it; the dashboard, `npm run report`, the e2e
 * tests and a team's own tools read it. Pure types, and the one line the readers print.
 */

export type VerdictKind = 'collecting' | 'better' | 'worse' | 'no-difference' | 'not-yet' | 'srm';

/** What a reader may conclude now about one treatment, and the sentence that says it. */
export interface Verdict {
  readonly kind: VerdictKind;
  readonly text: string;
}

/** The verdict as a line of its own: prefixed with the treatment's name unless the text already starts with it. */
export function verdictLine(treatment: string, text: string): string {
  return text.startsWith(`${treatment} `) ? text : `${treatment} — ${text}`;
}

/** The always-valid comparison of a treatment with the control (see sequential-statistics.ts). */
export interface SequentialResult {
  /** Always-valid p-value of the CTR difference; null while collecting. */
  pValue: number | null;
  /** Holm-adjusted over the treatments; `significant` is `pValueHolm < α`. */
  pValueHolm: number | null;
  /** Confidence sequence of the CTR difference at level `level`. */
  diffCs: [number | null, number | null];
  /** Confidence sequence of the relative lift (delta method on the ratio), same level. */
  relativeLiftCs: [number | null, number | null];
  /** Confidence level of both sequences: 1 − α/m for m treatments. */
  level: number;
  /** Tuning size: users in a comparison (2 × planned users per arm). */
  nStar: number;
  /** Users still missing in the smaller arm before comparing (0 once both have `MIN_USERS_PER_ARM`). */
  usersMissing: number;
  /** About how many more users per arm until a +10% lift could show; null when unknown or already resolved. */
  moreUsersPerArmForTargetLift: number | null;
}

/** One guardrail of one treatment against the control. */
export interface GuardrailComparison {
  /** The control's and the treatment's value (a share, or ms for latency). */
  control: number | null;
  treatment: number | null;
  /** treatment − control. */
  diff: number | null;
  /** Always-valid confidence sequence of the difference at 1 − GUARDRAIL_ALPHA. */
  diffCs: [number | null, number | null];
  /** Always-valid p-value of the difference. */
  pValue: number | null;
  /** Fixed-horizon p-value (valid only at the planned sample size, once it is reached). */
  fixedHorizonPValue: number | null;
  /** pValue < GUARDRAIL_ALPHA. */
  alarm: boolean;
}

/** One moment of the timeline. */
export interface TimelinePoint {
  /** ms since the epoch. */
  atMs: number;
  /** Users enrolled by then, per variant. */
  users: Record<string, number>;
  /** Per treatment: the CTR difference from the control and its confidence sequence; null below 100 users per arm. */
  diff: Record<string, { diff: number; diffCs: [number, number] } | null>;
}

/** What a population outside the comparisons did. */
export interface PopulationFigures {
  readonly users: number;
  readonly requests: number;
  readonly impressions: number;
  readonly clicks: number;
}

/** One variant's figures, and (for a treatment) its comparison with the control. */
export interface VariantResult {
  variant: string;
  users: number;
  requests: number;
  impressions: number;
  clicks: number;
  rejectedClicks: number;
  ctr: number | null;
  ctrCi95: [number | null, number | null];
  metrics: { impressions: number; clickThrough: number; ctr: number | null };
  vsControl: null | {
    diff: number | null;
    relativeLift: number | null;
    /** The CTR differs from control: `sequential.pValueHolm < α` (safe to read at any moment). */
    significant: boolean;
    sequential: SequentialResult;
    verdict: Verdict;
    /** Fixed-horizon 95% interval: valid only at the planned sample size, once it is reached. */
    diffCi95: [number | null, number | null];
    /** Fixed-horizon p-value: valid only at the planned sample size, once it is reached. */
    pValue: number | null;
    /** Fixed-horizon p-value, Holm-adjusted: valid only at the planned sample size, once it is reached. */
    pValueHolm: number | null;
    /** Users per arm the fixed-horizon figures are valid at, and whether both arms have reached it. */
    fixedHorizon: { plannedUsersPerArm: number; reached: boolean };
  };
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  latencyFromHistogramMs: { p50: number | null; p95: number | null; p99: number | null };
  /** Request latency distribution: how many requests took at most each bound (the last is "more"). */
  latencyDistribution: { upToMs: number | null; count: number }[];
  errorRate: number | null;
  cacheHitRate: number | null;
  downstream: Record<string, { count: number; p50Ms: number | null; p95Ms: number | null }>;
  delivery: { share: number | null; served: number; reported: number };
  guardrails: null | {
    /** Share of served requests with browser telemetry, user as the unit; null without per-user `reported`. */
    delivery: GuardrailComparison | null;
    /** Errors per request, user as the unit. */
    errorRate: GuardrailComparison;
    /** Mean request duration (ms per request), user as the unit; null without per-user `durationMsSum`. */
    latencyMeanMs: GuardrailComparison | null;
    /** Differences of the per-request p50 and p95 (ms). */
    latencyP50DiffMs: number | null;
    latencyP95DiffMs: number | null;
    /** The same with intervals that count users as units (always valid); null without per-user `durationsMs`. */
    latencyP50Ms: GuardrailComparison | null;
    latencyP95Ms: GuardrailComparison | null;
    /** Cache hit rate, hits over lookups with the user as the unit (null when the requests do not report their lookups). */
    cacheHitRate: GuardrailComparison | null;
    /** Cache hit rate difference from the downstream cache spans; its p-value counts lookups as independent: information only, never an alarm. */
    cacheHitRateDiff: number | null;
    cacheHitRateLookupPValue: number | null;
  };
}

/** The results of one experiment over a window and cohort. */
export interface ExperimentResults {
  experiment: string;
  baggageKey: string;
  status: string;
  winner: string | null;
  control: string;
  window: { from: string | null; to: string | null };
  cohort: string | null;
  srm: {
    /** Always-valid p-value (Dirichlet-multinomial sequential test); `flagged` is this below `SRM_ALPHA`. */
    sequentialPValue: number | null;
    /** Chi-square goodness-of-fit p-value: information only (valid for a single look). */
    pValue: number | null;
    statistic: number;
    flagged: boolean;
    users: Record<string, number>;
    expectedShares: Record<string, number>;
  };
  rejectedClicks: { unknownRequest: number; variantMismatch: number; unknownRequestByClaimedVariant: Record<string, number> };
  /** Clicks that named a served request but broke an attribution rule (see the README's trust model). */
  invalidClicks: number;
  /** Visitors kept out of every comparison, counted apart. */
  populations: { holdout: PopulationFigures & { ctr: number | null }; forced: PopulationFigures & { ctr: number | null } };
  warnings: string[];
  variants: VariantResult[];
  /** Users per variant and each treatment's difference with its confidence sequence, over time (see experiment-timeline.ts). */
  timeline: TimelinePoint[];
}
