/**
 * The analysis source of the embedded SQLite store: the narrow analysis tables the store fills
 * at ingest, read through one read-only connection inside one read transaction (in WAL mode a
 * reader's transaction sees one snapshot, however many commits land meanwhile).
 */
import { METRIC } from '../../../common/src/semconv.js';
import type { ExperimentDefinition } from '../core/experiment-config.js';
import { AnalysisStore, DURATION_BUCKETS_PER_E } from '../store/analysis-store.js';
import { variantTotals, type AnalysisData, type AnalysisSource, type AnalysisWindow } from './analysis-source.js';

const IMPRESSIONS_METRIC = METRIC.IMPRESSIONS;
const CLICK_THROUGH_METRIC = METRIC.CLICK_THROUGH;
const LATENCY_METRIC = METRIC.LATENCY;

function parseJson<T>(raw: string | null, fallback: T): T {
  return raw === null ? fallback : (JSON.parse(raw) as T);
}

/** Reads the analysis of the SQLite telemetry store at `path`. */
export class SqliteAnalysisSource implements AnalysisSource {
  private readonly store: AnalysisStore;
  private closed = false;

  constructor(path: string) {
    this.store = new AnalysisStore(path);
  }

  read(experiment: ExperimentDefinition, window: AnalysisWindow): Promise<AnalysisData> {
    try {
      return Promise.resolve(this.store.snapshot(() => this.readNow(experiment, window)));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private readNow(experiment: ExperimentDefinition, window: AnalysisWindow): AnalysisData {
    const key = experiment.baggageKey;
    const downstream = this.store.downstream(key, window);
    const users = this.store.users(key, window);
    const { delivery, variantMismatch, invalid } = variantTotals(users);
    const populations = Object.fromEntries(this.store.populations(window).map(({ population, ...figures }) => [population, figures]));
    return {
      users,
      rejected: { unknownRequest: this.store.unknownRequestClicks(key, window), variantMismatch, invalid },
      populations,
      durations: this.store.requestDurations(key, experiment.variants, window),
      delivery,
      downstream: downstream.groups,
      bucketsPerE: DURATION_BUCKETS_PER_E,
      cache: downstream.cache,
      metrics: this.metricTotals(key, window),
      latencyHistograms: this.latencyHistograms(key, window),
    };
  }

  /** Σ recommendation.impressions and Σ recommendation.click_through per variant (the seed article's view). */
  private metricTotals(key: string, window: AnalysisWindow): Map<string, { impressions: number; clickThrough: number }> {
    const impressions = this.store.metricSums(IMPRESSIONS_METRIC, key, window);
    const clickThrough = this.store.metricSums(CLICK_THROUGH_METRIC, key, window);
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
    for (const point of this.store.histogramPoints(LATENCY_METRIC, key, window)) {
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

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.store.close();
    }
    return Promise.resolve();
  }
}
