import Database from 'better-sqlite3';
import type { MetricPointRecord, SpanRecord } from '../core/telemetry-records.js';
import { nanosToMillis } from '../core/telemetry-records.js';
import { configureConnection, migrate, type Migration } from './migrations.js';

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE spans (
        id INTEGER PRIMARY KEY,
        trace_id TEXT NOT NULL,
        span_id TEXT NOT NULL,
        parent_span_id TEXT,
        name TEXT NOT NULL,
        kind INTEGER NOT NULL,
        service TEXT NOT NULL,
        scope TEXT NOT NULL,
        start_ns TEXT NOT NULL,
        end_ns TEXT NOT NULL,
        start_ms REAL NOT NULL,
        duration_ms REAL NOT NULL,
        status_code INTEGER NOT NULL,
        status_message TEXT NOT NULL,
        trusted INTEGER NOT NULL,
        request_id TEXT,
        attributes TEXT NOT NULL,
        events TEXT NOT NULL,
        links TEXT NOT NULL,
        UNIQUE (trace_id, span_id)
      );
      CREATE INDEX spans_name_start ON spans (name, start_ms);
      CREATE INDEX spans_request_id ON spans (request_id) WHERE request_id IS NOT NULL;
      CREATE TABLE metric_points (
        id INTEGER PRIMARY KEY,
        service TEXT NOT NULL,
        scope TEXT NOT NULL,
        name TEXT NOT NULL,
        unit TEXT NOT NULL,
        kind TEXT NOT NULL,
        temporality INTEGER NOT NULL,
        monotonic INTEGER NOT NULL,
        attributes TEXT NOT NULL,
        start_ns TEXT NOT NULL,
        time_ns TEXT NOT NULL,
        time_ms REAL NOT NULL,
        value REAL,
        count REAL,
        sum REAL,
        bucket_counts TEXT,
        explicit_bounds TEXT,
        trusted INTEGER NOT NULL
      );
      CREATE INDEX metric_points_name_time ON metric_points (name, time_ms);
    `,
  },
];

/** A span as the API returns it. */
export interface StoredSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  kind: number;
  service: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  durationMs: number;
  status: { code: number; message: string };
  attributes: Record<string, unknown>;
  links: unknown[];
  events: unknown[];
  trusted: boolean;
}

/** A metric point as the API returns it. */
export interface StoredMetricPoint {
  service: string;
  name: string;
  unit: string;
  kind: string;
  temporality: number;
  attributes: Record<string, unknown>;
  startTimeUnixNano: string;
  timeUnixNano: string;
  value: number | null;
  count: number | null;
  sum: number | null;
  bucketCounts: number[] | null;
  explicitBounds: number[] | null;
  trusted: boolean;
}

interface SpanRow {
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  name: string;
  kind: number;
  service: string;
  start_ns: string;
  end_ns: string;
  duration_ms: number;
  status_code: number;
  status_message: string;
  trusted: number;
  attributes: string;
  events: string;
  links: string;
}

interface MetricRow {
  service: string;
  name: string;
  unit: string;
  kind: string;
  temporality: number;
  attributes: string;
  start_ns: string;
  time_ns: string;
  value: number | null;
  count: number | null;
  sum: number | null;
  bucket_counts: string | null;
  explicit_bounds: string | null;
  trusted: number;
}

/** Filters for `findSpans`. */
export interface SpanQuery {
  name?: string;
  requestId?: string;
  limit?: number;
}

const DEFAULT_QUERY_LIMIT = 100;
const MAX_QUERY_LIMIT = 1000;

function toStoredSpan(row: SpanRow): StoredSpan {
  return {
    traceId: row.trace_id,
    spanId: row.span_id,
    parentSpanId: row.parent_span_id,
    name: row.name,
    kind: row.kind,
    service: row.service,
    startTimeUnixNano: row.start_ns,
    endTimeUnixNano: row.end_ns,
    durationMs: row.duration_ms,
    status: { code: row.status_code, message: row.status_message },
    attributes: JSON.parse(row.attributes) as Record<string, unknown>,
    events: JSON.parse(row.events) as unknown[],
    links: JSON.parse(row.links) as unknown[],
    trusted: row.trusted === 1,
  };
}

function toStoredPoint(row: MetricRow): StoredMetricPoint {
  return {
    service: row.service,
    name: row.name,
    unit: row.unit,
    kind: row.kind,
    temporality: row.temporality,
    attributes: JSON.parse(row.attributes) as Record<string, unknown>,
    startTimeUnixNano: row.start_ns,
    timeUnixNano: row.time_ns,
    value: row.value,
    count: row.count,
    sum: row.sum,
    bucketCounts: row.bucket_counts === null ? null : (JSON.parse(row.bucket_counts) as number[]),
    explicitBounds: row.explicit_bounds === null ? null : (JSON.parse(row.explicit_bounds) as number[]),
    trusted: row.trusted === 1,
  };
}

function clampLimit(limit: number | undefined): number {
  return Math.min(Math.max(1, limit ?? DEFAULT_QUERY_LIMIT), MAX_QUERY_LIMIT);
}

/** The embedded SQLite store of spans and metric points. */
export class TelemetryStore {
  private readonly db: Database.Database;
  private readonly insertSpan: Database.Statement;
  private readonly insertPoint: Database.Statement;

  constructor(path: string) {
    this.db = new Database(path);
    configureConnection(this.db);
    migrate(this.db, MIGRATIONS);
    this.insertSpan = this.db.prepare(`
      INSERT OR IGNORE INTO spans (trace_id, span_id, parent_span_id, name, kind, service, scope,
        start_ns, end_ns, start_ms, duration_ms, status_code, status_message, trusted, request_id,
        attributes, events, links)
      VALUES (@traceId, @spanId, @parentSpanId, @name, @kind, @service, @scope, @startNs, @endNs,
        @startMs, @durationMs, @statusCode, @statusMessage, @trusted, @requestId, @attributes,
        @events, @links)`);
    this.insertPoint = this.db.prepare(`
      INSERT INTO metric_points (service, scope, name, unit, kind, temporality, monotonic,
        attributes, start_ns, time_ns, time_ms, value, count, sum, bucket_counts, explicit_bounds, trusted)
      VALUES (@service, @scope, @name, @unit, @kind, @temporality, @monotonic, @attributes,
        @startNs, @timeNs, @timeMs, @value, @count, @sum, @bucketCounts, @explicitBounds, @trusted)`);
  }

  /** Stores spans in one transaction; a span already stored (same trace and span id) is skipped. Returns how many were new. */
  addSpans(spans: readonly SpanRecord[]): number {
    return this.db.transaction((batch: readonly SpanRecord[]) => {
      let added = 0;
      for (const span of batch) {
        const startMs = nanosToMillis(span.startTimeUnixNano);
        const requestId = span.attributes['recommendation.request_id'];
        added += this.insertSpan.run({
          traceId: span.traceId,
          spanId: span.spanId,
          parentSpanId: span.parentSpanId,
          name: span.name,
          kind: span.kind,
          service: span.service,
          scope: span.scope,
          startNs: span.startTimeUnixNano,
          endNs: span.endTimeUnixNano,
          startMs,
          durationMs: nanosToMillis(span.endTimeUnixNano) - startMs,
          statusCode: span.statusCode,
          statusMessage: span.statusMessage,
          trusted: span.trusted ? 1 : 0,
          requestId: typeof requestId === 'string' ? requestId : null,
          attributes: JSON.stringify(span.attributes),
          events: JSON.stringify(span.events),
          links: JSON.stringify(span.links),
        }).changes;
      }
      return added;
    })(spans);
  }

  /** Stores metric points in one transaction. */
  addMetricPoints(points: readonly MetricPointRecord[]): void {
    this.db.transaction((batch: readonly MetricPointRecord[]) => {
      for (const point of batch) {
        this.insertPoint.run({
          service: point.service,
          scope: point.scope,
          name: point.name,
          unit: point.unit,
          kind: point.kind,
          temporality: point.temporality,
          monotonic: point.monotonic ? 1 : 0,
          attributes: JSON.stringify(point.attributes),
          startNs: point.startTimeUnixNano,
          timeNs: point.timeUnixNano,
          timeMs: nanosToMillis(point.timeUnixNano),
          value: point.value,
          count: point.count,
          sum: point.sum,
          bucketCounts: point.bucketCounts === null ? null : JSON.stringify(point.bucketCounts),
          explicitBounds: point.explicitBounds === null ? null : JSON.stringify(point.explicitBounds),
          trusted: point.trusted ? 1 : 0,
        });
      }
    })(points);
  }

  /** Every stored span of a trace, in start order. */
  getTrace(traceId: string): StoredSpan[] {
    const rows = this.db
      .prepare('SELECT * FROM spans WHERE trace_id = ? ORDER BY start_ms, id')
      .all(traceId) as SpanRow[];
    return rows.map(toStoredSpan);
  }

  /** The newest spans matching a name and/or a recommendation request id. */
  findSpans(query: SpanQuery): StoredSpan[] {
    const clauses: string[] = [];
    const params: unknown[] = [];
    if (query.name !== undefined) {
      clauses.push('name = ?');
      params.push(query.name);
    }
    if (query.requestId !== undefined) {
      clauses.push('request_id = ?');
      params.push(query.requestId);
    }
    const where = clauses.length > 0 ? `WHERE ${clauses.join(' AND ')}` : '';
    const rows = this.db
      .prepare(`SELECT * FROM spans ${where} ORDER BY start_ms DESC, id DESC LIMIT ?`)
      .all(...params, clampLimit(query.limit)) as SpanRow[];
    return rows.map(toStoredSpan);
  }

  /** The newest points of a metric. */
  findMetricPoints(name: string, limit?: number): StoredMetricPoint[] {
    const rows = this.db
      .prepare('SELECT * FROM metric_points WHERE name = ? ORDER BY time_ms DESC, id DESC LIMIT ?')
      .all(name, clampLimit(limit)) as MetricRow[];
    return rows.map(toStoredPoint);
  }

  close(): void {
    this.db.close();
  }
}
