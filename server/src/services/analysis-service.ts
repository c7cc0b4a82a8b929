import { analyzeExperiment, type ExperimentResults } from '../core/experiment-analysis.js';
import type { ExperimentDefinition } from '../core/experiment-config.js';
import { COHORTS } from '../core/experiments.js';
import { AnalysisStore, DURATION_BUCKETS_PER_E, type AnalysisWindow } from '../store/analysis-store.js';

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

function parseJson<T>(raw: string | null, fallback: T): T {
  return raw === null ? fallback : (JSON.parse(raw) as T);
}

/** Runs experiment analyses against the telemetry store. */
export class AnalysisService {
  private readonly store: AnalysisStore;

  constructor(
    path: string,
    private readonly experiments: readonly ExperimentDefinition[],
  ) {
    this.store = new AnalysisStore(path);
  }

  experiment(key: string): ExperimentDefinition | undefined {
    return this.experiments.find((e) => e.key === key);
  }

  results(experiment: ExperimentDefinition, request: AnalysisRequest = {}): ExperimentResults {
    const fromMs = instant(request.from, 'from', 0);
    const toMs = instant(request.to, 'to', Number.MAX_SAFE_INTEGER);
    if (toMs <= fromMs) throw new AnalysisRequestError('to is invalid, expected a time after from');
    if (request.cohort !== undefined && !(COHORTS as readonly string[]).includes(request.cohort)) {
      throw new AnalysisRequestError(`cohort is invalid, expected ${COHORTS.join(' or ')} (actual: ${request.cohort.slice(0, 40)})`);
    }
    const window: AnalysisWindow = { fromMs, toMs, cohort: request.cohort };
    const key = experiment.baggageKey;
    const downstream = this.store.downstream(key, window);
    const users = this.store.users(key, window);
    const delivery = new Map<string, { served: number; reported: number }>();
    const variantMismatch: Record<string, number> = {};
    for (const row of users) {
      const entry = delivery.get(row.variant) ?? { served: 0, reported: 0 };
      entry.served += row.requests;
      entry.reported += row.reported;
      delivery.set(row.variant, entry);
      if (row.mismatched > 0) variantMismatch[row.variant] = (variantMismatch[row.variant] ?? 0) + row.mismatched;
    }
    return analyzeExperiment({
      experiment,
      window: { from: request.from ? new Date(fromMs).toISOString() : null, to: request.to ? new Date(toMs).toISOString() : null },
      cohort: request.cohort ?? null,
      users,
      rejected: { unknownRequest: boundedClaims(this.store.unknownRequestClicks(key, window)), variantMismatch },
      durations: this.store.requestDurations(key, experiment.variants, window),
      delivery,
      downstream: downstream.groups,
      bucketsPerE: DURATION_BUCKETS_PER_E,
      cache: downstream.cache,
      metrics: this.metricTotals(key, window),
      latencyHistograms: this.latencyHistograms(key, window),
    });
  }

  /** Σ recommendation.impressions and Σ recommendation.click_through per variant (the seed article's view). */
  private metricTotals(key: string, window: AnalysisWindow): Map<string, { impressions: number; clickThrough: number }> {
    const impressions = this.store.metricSums('recommendation.impressions', key, window);
    const clickThrough = this.store.metricSums('recommendation.click_through', key, window);
    const totals = new Map<string, { impressions: number; clickThrough: number }>();
    for (const variant of new Set([...impressions.keys(), ...clickThrough.keys()])) {
      totals.set(variant, { impressions: impressions.get(variant) ?? 0, clickThrough: clickThrough.get(variant) ?? 0 });
    }
    return totals;
  }

  /** `recommendation.latency` bucket counts summed per variant (points with other bounds are skipped). */
  private latencyHistograms(key: string, window: AnalysisWindow): Map<string, { bounds: number[]; counts: number[] }> {
    const out = new Map<string, { bounds: number[]; counts: number[] }>();
    const parsedBounds = new Map<string, number[]>();
    for (const point of this.store.histogramPoints('recommendation.latency', key, window)) {
      let bounds = parsedBounds.get(point.explicitBounds);
      if (bounds === undefined) parsedBounds.set(point.explicitBounds, (bounds = parseJson<number[]>(point.explicitBounds, [])));
      const counts = parseJson<number[]>(point.bucketCounts, []);
      const entry = out.get(point.variant);
      if (entry === undefined) out.set(point.variant, { bounds, counts: [...counts] });
      else if (entry.bounds === bounds || (entry.bounds.length === bounds.length && entry.bounds.every((b, i) => b === bounds![i]))) {
        counts.forEach((c, i) => (entry.counts[i] = (entry.counts[i] ?? 0) + c));
      }
    }
    return out;
  }

  close(): void {
    this.store.close();
  }
}
