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
import type { DurationGroup } from '../store/analysis-store.js';

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

/** A per-user row as both sources read it: what the per-variant totals are summed from. */
interface UserTotals {
  readonly variant: string;
  readonly requests: number;
  readonly reported: number;
  readonly mismatched: number;
  readonly invalid: number;
}

/** Delivery (served and reported requests), mismatched and invalid clicks per variant, summed over the users' rows. */
export function variantTotals(users: readonly UserTotals[]): {
  delivery: Map<string, { served: number; reported: number }>;
  variantMismatch: Record<string, number>;
  invalid: Record<string, number>;
} {
  const delivery = new Map<string, { served: number; reported: number }>();
  const variantMismatch: Record<string, number> = {};
  const invalid: Record<string, number> = {};
  for (const row of users) {
    const entry = delivery.get(row.variant) ?? { served: 0, reported: 0 };
    entry.served += row.requests;
    entry.reported += row.reported;
    delivery.set(row.variant, entry);
    if (row.mismatched > 0) variantMismatch[row.variant] = (variantMismatch[row.variant] ?? 0) + row.mismatched;
    if (row.invalid > 0) invalid[row.variant] = (invalid[row.variant] ?? 0) + row.invalid;
  }
  return { delivery, variantMismatch, invalid };
}

/** One cell of a downstream rollup as both sources read it: spans of a variant and name in one duration bucket, with their cache figures. */
export interface DownstreamCell {
  readonly variant: string;
  readonly name: string;
  readonly bucket: number;
  readonly n: number;
  readonly hits: number;
  readonly misses: number;
}

/** Rollup cells, ordered by variant, name and bucket, as per-variant duration groups and cache hits and misses per variant. */
export function downstreamGroups(cells: Iterable<DownstreamCell>): { groups: DurationGroup[]; cache: Map<string, { hits: number; misses: number }> } {
  const groups = new Map<string, { variant: string; name: string; count: number; buckets: [number, number][] }>();
  const cache = new Map<string, { hits: number; misses: number }>();
  for (const cell of cells) {
    const id = `${cell.variant}\u0000${cell.name}`;
    let group = groups.get(id);
    if (group === undefined) groups.set(id, (group = { variant: cell.variant, name: cell.name, count: 0, buckets: [] }));
    group.count += cell.n;
    group.buckets.push([cell.bucket, cell.n]);
    if (cell.hits > 0 || cell.misses > 0) {
      const entry = cache.get(cell.variant) ?? { hits: 0, misses: 0 };
      entry.hits += cell.hits;
      entry.misses += cell.misses;
      cache.set(cell.variant, entry);
    }
  }
  return { groups: [...groups.values()], cache };
}
