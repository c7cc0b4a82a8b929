/**
 * The seam between the analysis and where its data lives. A source turns one experiment, one
 * window and an optional cohort into the per-user and per-variant figures the pure analysis
 * (`core/experiment-analysis.ts`) reads — from one consistent snapshot of its store, so that
 * every figure of one result describes the same moment. The SQLite store and the ClickHouse
 * tables of the OpenTelemetry Collector are two sources; both are held to the same
 * attribution rules (`core/request-attribution.ts`) and its table of cases.
 */
import type { AnalysisInput } from '../core/experiment-analysis.js';
import type { ExperimentDefinition } from '../core/experiment-config.js';

/** The slice of data an analysis reads. */
export interface AnalysisWindow {
  /** Inclusive lower bound, ms since the epoch. */
  readonly fromMs: number;
  /** Exclusive upper bound, ms since the epoch. */
  readonly toMs: number;
  /** Only visitors of this `user.cohort`, when set. */
  readonly cohort?: string;
}

/** What a source reads for one experiment: the analysis input without what the request itself says. */
export type AnalysisData = Omit<AnalysisInput, 'experiment' | 'window' | 'cohort'>;

/** Where the analysis reads its data from. */
export interface AnalysisSource {
  /** The figures of one experiment in a window, read from one snapshot. */
  read(experiment: ExperimentDefinition, window: AnalysisWindow): Promise<AnalysisData>;
  /** Releases the source's connections; harmless when called twice. */
  close(): Promise<void>;
}
