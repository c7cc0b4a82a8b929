import type { AnalysisSource } from '../analysis/analysis-source.js';
import { analyzeExperiment, type ExperimentResults } from '../core/experiment-analysis.js';
import type { ExperimentDefinition } from '../core/experiment-config.js';
import { COHORTS } from '../core/experiments.js';

/** The request's view of the data: a window and an optional cohort, as given by the user. */
export interface AnalysisRequest {
  readonly from?: string;
  readonly to?: string;
  readonly cohort?: string;
}

/** A query parameter that cannot be used; the route answers 400 with the message. */
export class AnalysisRequestError extends Error {}

/** The last instant a JavaScript date can hold (ms since the epoch): later ones cannot be shown as dates. */
const MAX_DATE_MS = 8_640_000_000_000_000;

function instant(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  // A number is milliseconds, even with a sign, so that -1 is not read as a year.
  const ms = /^[-+]?\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_DATE_MS) {
    throw new AnalysisRequestError(
      `${name} is invalid, expected an ISO 8601 date-time or milliseconds since the epoch, from 1970 to ${new Date(MAX_DATE_MS).toISOString()} (actual: ${raw.slice(0, 40)})`,
    );
  }
  return ms;
}

/**
 * Claimed variants of rejected clicks come from browsers: any number of values of any length.
 * The results keep the most frequent, each cut to a readable length, and one bucket for the
 * rest, so a flood of made-up values cannot make every refresh megabytes long.
 */
export const MAX_CLAIMED_VARIANTS = 20;
export const MAX_CLAIMED_VARIANT_LENGTH = 64;
/** The bucket of the claimed values beyond the most frequent (parenthesised: no variant name has parentheses). */
export const OTHER_CLAIMS = '(other)';

function boundedClaims(counts: Record<string, number>): Record<string, number> {
  const sorted = Object.entries(counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const bounded: Record<string, number> = {};
  let other = 0;
  for (const [claim, count] of sorted) {
    const key = claim.length > MAX_CLAIMED_VARIANT_LENGTH ? `${claim.slice(0, MAX_CLAIMED_VARIANT_LENGTH)}…` : claim;
    if (key in bounded) bounded[key]! += count;
    else if (Object.keys(bounded).length < MAX_CLAIMED_VARIANTS && key !== OTHER_CLAIMS) bounded[key] = count;
    else other += count;
  }
  if (other > 0) bounded[OTHER_CLAIMS] = other;
  return bounded;
}

/** What the read side asks of the analysis: `AnalysisService` here, or `AnalysisThread` off the main thread. */
export interface ExperimentAnalysis {
  experiment(key: string): ExperimentDefinition | undefined;
  /** The results; rejects with `AnalysisRequestError` for a parameter that cannot be used. */
  results(experiment: ExperimentDefinition, request?: AnalysisRequest): Promise<ExperimentResults>;
  close(): Promise<void>;
}

/** The window and cohort of a request, checked: throws `AnalysisRequestError` naming the parameter. */
export function analysisWindow(request: AnalysisRequest): { fromMs: number; toMs: number; cohort: string | undefined } {
  const fromMs = instant(request.from, 'from', 0);
  const toMs = instant(request.to, 'to', Number.MAX_SAFE_INTEGER);
  if (toMs <= fromMs) throw new AnalysisRequestError('to is invalid, expected a time after from');
  if (request.cohort !== undefined && !(COHORTS as readonly string[]).includes(request.cohort)) {
    throw new AnalysisRequestError(`cohort is invalid, expected ${COHORTS.join(' or ')} (actual: ${request.cohort.slice(0, 40)})`);
  }
  return { fromMs, toMs, cohort: request.cohort };
}

/** Runs experiment analyses on the data an `AnalysisSource` reads. */
export class AnalysisService implements ExperimentAnalysis {
  constructor(
    private readonly source: AnalysisSource,
    private readonly experiments: readonly ExperimentDefinition[],
  ) {}

  experiment(key: string): ExperimentDefinition | undefined {
    return this.experiments.find((e) => e.key === key);
  }

  async results(experiment: ExperimentDefinition, request: AnalysisRequest = {}): Promise<ExperimentResults> {
    const { fromMs, toMs } = analysisWindow(request);
    const data = await this.source.read(experiment, { fromMs, toMs, cohort: request.cohort });
    return analyzeExperiment({
      ...data,
      rejected: { ...data.rejected, unknownRequest: boundedClaims(data.rejected.unknownRequest) },
      experiment,
      window: { from: request.from ? new Date(fromMs).toISOString() : null, to: request.to ? new Date(toMs).toISOString() : null },
      cohort: request.cohort ?? null,
    });
  }

  close(): Promise<void> {
    return this.source.close();
  }
}
