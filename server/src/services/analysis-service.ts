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

function instant(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(ms)) throw new AnalysisRequestError(`${name} is invalid, expected an ISO 8601 date-time or milliseconds since the epoch (actual: ${raw.slice(0, 40)})`);
  return ms;
}

/** Runs experiment analyses on the data an `AnalysisSource` reads. */
export class AnalysisService {
  constructor(
    private readonly source: AnalysisSource,
    private readonly experiments: readonly ExperimentDefinition[],
  ) {}

  experiment(key: string): ExperimentDefinition | undefined {
    return this.experiments.find((e) => e.key === key);
  }

  async results(experiment: ExperimentDefinition, request: AnalysisRequest = {}): Promise<ExperimentResults> {
    const fromMs = instant(request.from, 'from', 0);
    const toMs = instant(request.to, 'to', Number.MAX_SAFE_INTEGER);
    if (toMs <= fromMs) throw new AnalysisRequestError('to is invalid, expected a time after from');
    if (request.cohort !== undefined && !(COHORTS as readonly string[]).includes(request.cohort)) {
      throw new AnalysisRequestError(`cohort is invalid, expected ${COHORTS.join(' or ')} (actual: ${request.cohort.slice(0, 40)})`);
    }
    const data = await this.source.read(experiment, { fromMs, toMs, cohort: request.cohort });
    return analyzeExperiment({
      ...data,
      experiment,
      window: { from: request.from ? new Date(fromMs).toISOString() : null, to: request.to ? new Date(toMs).toISOString() : null },
      cohort: request.cohort ?? null,
    });
  }

  close(): Promise<void> {
    return this.source.close();
  }
}
