/** Reading spans and metric points back: traces, spans by name or request, pages, points. */
import type Database from 'better-sqlite3';
import type { StoredMetricPoint, StoredSpan } from '../../../common/src/wire-types.js';
import { SEGMENT_ROWS } from '../core/trace-bloom.js';
import { toStoredPoint, toStoredSpan, type MetricRow, type SpanRow } from './telemetry-rows.js';
import { requestKey, traceKey, type TraceSegments } from './trace-segments.js';

/** Filters for `findSpans`. */
export interface SpanQuery {
  name?: string;
  requestId?: string;
  limit?: number;
}

/** Where a page of `findSpansPage` ended: the next page starts after this span. */
export interface SpanCursor {
  readonly startMs: number;
  readonly id: number;
}

/** Spans sharing the cursor's start time that a later page may have to skip again. */
const SAME_START_ALLOWANCE = 1000;

/** Spans or points `findSpans` and `findMetricPoints` return when not asked for a number. */
export const DEFAULT_QUERY_LIMIT = 100;
/** The most they return at once, so one read stays a bounded response however much is stored. */
export const MAX_QUERY_LIMIT = 1000;

function clampLimit(limit: number | undefined): number {
  return Math.min(Math.max(1, limit ?? DEFAULT_QUERY_LIMIT), MAX_QUERY_LIMIT);
}

/** The reads of one connection. */
export class SpanReads {
  constructor(
    private readonly db: Database.Database,
    private readonly segments: TraceSegments,
  ) {}

  /**
   * Every stored span of a trace, in start order: only the segments whose filter may hold
   * the trace are read.
   */
  getTrace(traceId: string): StoredSpan[] {
    const rows = this.segments.rowsInSegments(traceKey(traceId), 'trace_id = ?', [traceId]);
    rows.sort((a, b) => a.start_ms - b.start_ms || a.id - b.id);
    return rows.map(toStoredSpan);
  }

  /**
   * The newest spans matching a name and/or a recommendation request id. A request id is
   * found through the segments' filters; a name alone is a walk back through the spans by
   * start time (quick for the names spans commonly have, a scan for a name few spans have).
   */
  findSpans(query: SpanQuery): StoredSpan[] {
    const limit = clampLimit(query.limit);
    if (query.requestId !== undefined) {
      const rows = this.segments.rowsInSegments(
        requestKey(query.requestId),
        query.name === undefined ? 'request_id = ?' : 'request_id = ? AND name = ?',
        query.name === undefined ? [query.requestId] : [query.requestId, query.name],
      );
      rows.sort((a, b) => b.start_ms - a.start_ms || b.id - a.id);
      return rows.slice(0, limit).map(toStoredSpan);
    }
    const where = query.name === undefined ? '' : 'WHERE name = ?';
    const rows = this.db
      .prepare(`SELECT * FROM spans INDEXED BY spans_identity ${where} ORDER BY start_ms DESC, id DESC LIMIT ?`)
      .all(...(query.name === undefined ? [] : [query.name]), limit) as SpanRow[];
    return rows.map(toStoredSpan);
  }

  /** The segments that may hold spans of a trace (their Bloom filters say so), newest first. */
  traceSegments(traceId: string): number[] {
    return this.segments.segmentsWith(traceKey(traceId));
  }

  /**
   * `[row id, start ms]` of a trace's spans in one segment: two numbers a span, so a reader
   * can order and cap a huge trace, a segment per turn, before it parses any attributes.
   */
  traceSpanKeys(traceId: string, segment: number): [number, number][] {
    return this.db
      .prepare('SELECT id, start_ms FROM spans WHERE id >= ? AND id < ? AND trace_id = ?')
      .raw()
      .all(segment * SEGMENT_ROWS, (segment + 1) * SEGMENT_ROWS, traceId) as [number, number][];
  }

  /** Stored spans by row id, in the order given (ids no longer stored are skipped). */
  spansByIds(ids: readonly number[]): StoredSpan[] {
    if (ids.length === 0) return [];
    const rows = this.db.prepare(`SELECT * FROM spans WHERE id IN (${ids.map(() => '?').join(',')})`).all(...ids) as SpanRow[];
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.flatMap((id) => {
      const row = byId.get(id);
      return row === undefined ? [] : [toStoredSpan(row)];
    });
  }

  /**
   * One page of `findSpans`, newest first, after `cursor` (the previous page's `next`). A
   * name alone walks back through the spans by start time looking at `scanBudget` spans at
   * most, so a name few spans have costs a bounded read per page, not a scan of the store: a
   * page may then hold fewer spans than asked, or none, with a `next` to go on from.
   */
  findSpansPage(query: SpanQuery & { cursor?: SpanCursor; scanBudget: number }): { spans: StoredSpan[]; next: SpanCursor | null } {
    const limit = clampLimit(query.limit);
    const before = (startMs: number, id: number) => query.cursor === undefined || startMs < query.cursor.startMs || (startMs === query.cursor.startMs && id < query.cursor.id);
    if (query.requestId !== undefined) {
      // Keys first (two numbers a span), rows for the page only: a request id that browsers
      // put on many spans costs a cheap pass, not every span parsed.
      const inSegment = this.db
        .prepare(`SELECT id, start_ms FROM spans WHERE id >= ? AND id < ? AND request_id = ?${query.name === undefined ? '' : ' AND name = ?'}`)
        .raw();
      const params = query.name === undefined ? [query.requestId] : [query.requestId, query.name];
      const keys = this.segments.segmentsWith(requestKey(query.requestId))
        .flatMap((segment) => inSegment.all(segment * SEGMENT_ROWS, (segment + 1) * SEGMENT_ROWS, ...params) as [number, number][])
        .filter(([id, startMs]) => before(startMs, id));
      keys.sort((a, b) => b[1] - a[1] || b[0] - a[0]);
      const page = keys.slice(0, limit);
      const last = page.at(-1);
      return { spans: this.spansByIds(page.map(([id]) => id)), next: keys.length > limit && last !== undefined ? { startMs: last[1], id: last[0] } : null };
    }
    const from = query.cursor?.startMs ?? Number.MAX_VALUE;
    // After a cursor, the spans sharing its start time that the last page saw come again; they are skipped.
    const fetched = query.scanBudget + (query.cursor === undefined ? 0 : SAME_START_ALLOWANCE);
    const scan = this.db
      .prepare('SELECT id, start_ms, name FROM spans INDEXED BY spans_identity WHERE start_ms <= ? ORDER BY start_ms DESC, id DESC LIMIT ?')
      .raw()
      .all(from, fetched) as [number, number, string][];
    const ids: number[] = [];
    let last: SpanCursor | undefined;
    let scanned = 0;
    let stopped = false;
    for (const [id, startMs, name] of scan) {
      if (!before(startMs, id)) continue;
      last = { startMs, id };
      scanned += 1;
      if (query.name === undefined || name === query.name) ids.push(id);
      if (ids.length === limit || scanned === query.scanBudget) {
        stopped = true;
        break;
      }
    }
    const more = stopped || scan.length === fetched;
    return { spans: this.spansByIds(ids), next: more && last !== undefined ? last : null };
  }

  /** The newest points of a metric. */
  findMetricPoints(name: string, limit?: number): StoredMetricPoint[] {
    const rows = this.db
      .prepare('SELECT * FROM metric_points WHERE name = ? ORDER BY time_ms DESC, id DESC LIMIT ?')
      .all(name, clampLimit(limit)) as MetricRow[];
    return rows.map(toStoredPoint);
  }
}
