/**
 * Deleting what retention says must go: by age, and by count with the browser's rows first,
 * in the order they arrived, so a flood of browser telemetry never pushes out the server's own.
 */
import type Database from 'better-sqlite3';
import { SPAN } from '../../../common/src/semconv.js';
import type { RowCounts } from './row-counts.js';
import { MINUTE_MS } from './telemetry-rollups.js';
import type { TraceSegments } from './trace-segments.js';

const REQUEST_SPAN = SPAN.REQUEST;

/** The retention deletes of one connection. */
export class TelemetryRetention {
  constructor(
    private readonly db: Database.Database,
    private readonly segments: TraceSegments,
    private readonly counts: RowCounts,
  ) {}

  /** How many spans are stored: one row read (`row_counts`), not a count of the table. */
  spanCount(): number {
    return this.counts.get('spans');
  }

  /** Deletes spans and points older than `cutoffMs` (ms since the epoch), at most `batch` spans. Returns how many spans went. */
  deleteOlderThan(cutoffMs: number, batch: number): number {
    return this.db.transaction(() => {
      const ids = this.db.prepare('SELECT id FROM spans WHERE start_ms < ? ORDER BY start_ms LIMIT ?').pluck().all(cutoffMs, batch) as number[];
      this.deleteSpans(ids);
      this.segments.forgetEmpty();
      this.counts.add('metric_points', -this.db.prepare('DELETE FROM metric_points WHERE id IN (SELECT id FROM metric_points WHERE time_ms < ? LIMIT ?)').run(cutoffMs, batch).changes);
      // Stored in arrival order, so the oldest rows are the first ids; no time index needed. By
      // when they were received, not the time a browser claims: future-dated events at the
      // head would otherwise keep every later one forever.
      this.db.prepare('DELETE FROM unmatched_events WHERE id IN (SELECT id FROM unmatched_events ORDER BY id LIMIT ?) AND received_ms < ?').run(batch, cutoffMs);
      this.db.prepare('DELETE FROM span_rollup WHERE minute < ?').run(Math.floor(cutoffMs / MINUTE_MS));
      this.db.prepare('DELETE FROM metric_rollup WHERE minute < ?').run(Math.floor(cutoffMs / MINUTE_MS));
      return ids.length;
    }).immediate();
  }

  /** How many spans are stored beyond `maxSpans` (one row read: no write lock, no scan). */
  spansBeyond(maxSpans: number): number {
    return Math.max(0, this.spanCount() - maxSpans);
  }

  /**
   * Deletes `count` spans: the browser's first, in the order they arrived; the server's own
   * only once no browser span is left (a flood of browser spans never pushes out a served
   * request). By arrival, not start time: spans a browser dates ahead used to outlive
   * everything. Browser events waiting for their request go with their spans. Returns how many went.
   */
  deleteOldestSpans(count: number): number {
    return this.db.transaction(() => {
      const untrusted = this.db.prepare('SELECT id FROM spans INDEXED BY spans_untrusted_arrival WHERE trusted = 0 ORDER BY id LIMIT ?').pluck().all(count) as number[];
      const trusted = untrusted.length < count ? (this.db.prepare('SELECT id FROM spans WHERE trusted = 1 ORDER BY id LIMIT ?').pluck().all(count - untrusted.length) as number[]) : [];
      this.deleteSpans([...untrusted, ...trusted]);
      if (untrusted.length > 0) {
        this.db
          .prepare('DELETE FROM unmatched_events WHERE id IN (SELECT id FROM unmatched_events WHERE span_row <= ? ORDER BY id LIMIT ?)')
          .run(untrusted[untrusted.length - 1], untrusted.length);
      }
      this.segments.forgetEmpty();
      return untrusted.length + trusted.length;
    }).immediate();
  }

  /** How many metric points are stored beyond `maxPoints` (one row read). */
  pointsBeyond(maxPoints: number): number {
    return Math.max(0, this.counts.get('metric_points') - maxPoints);
  }

  /** Deletes `count` metric points, the browser's first, by arrival (see `deleteOldestSpans`). Returns how many went. */
  deleteOldestPoints(count: number): number {
    return this.db.transaction(() => {
      const untrusted = this.db
        .prepare('DELETE FROM metric_points WHERE id IN (SELECT id FROM metric_points INDEXED BY metric_points_untrusted_arrival WHERE trusted = 0 ORDER BY id LIMIT ?)')
        .run(count).changes;
      const trusted = untrusted < count ? this.db.prepare('DELETE FROM metric_points WHERE id IN (SELECT id FROM metric_points WHERE trusted = 1 ORDER BY id LIMIT ?)').run(count - untrusted).changes : 0;
      this.counts.add('metric_points', -(untrusted + trusted));
      return untrusted + trusted;
    }).immediate();
  }

  private deleteSpans(ids: readonly number[]): void {
    const deleteSpan = this.db.prepare('DELETE FROM spans WHERE id = ?');
    // Only the server's own request span: a browser span of that name must not take the served request's rows with it.
    const requestOf = this.db.prepare(`SELECT request_id FROM spans WHERE id = ? AND name = '${REQUEST_SPAN}' AND trusted = 1`).pluck();
    const deleteRequest = this.db.prepare('DELETE FROM experiment_requests WHERE request_id = ?');
    const deleteClickKeys = this.db.prepare('DELETE FROM click_keys WHERE request_id = ?');
    const deleteServed = this.db.prepare('DELETE FROM served_requests WHERE request_id = ?');
    let deleted = 0;
    for (const id of ids) {
      const requestId = requestOf.get(id) as string | undefined;
      if (typeof requestId === 'string') {
        deleteRequest.run(requestId);
        deleteClickKeys.run(requestId);
        deleteServed.run(requestId);
      }
      deleted += deleteSpan.run(id).changes;
    }
    this.counts.add('spans', -deleted);
  }

}
