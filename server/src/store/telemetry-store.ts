import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import type { MetricPointRecord, SpanRecord } from '../core/telemetry-records.js';
import { canonicalJson, nanosToMillis } from '../core/telemetry-records.js';
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
  {
    // Slicing by variant without scanning JSON: experiment attributes in a narrow indexed
    // table, the visitor on trusted spans, and the identity of each metric stream.
    version: 2,
    sql: `
      CREATE TABLE span_experiments (
        key TEXT NOT NULL,
        variant TEXT NOT NULL,
        span_id INTEGER NOT NULL,
        PRIMARY KEY (key, variant, span_id)
      ) WITHOUT ROWID;
      CREATE INDEX span_experiments_span ON span_experiments (span_id);
      ALTER TABLE spans ADD COLUMN user_id TEXT;
      CREATE INDEX spans_user ON spans (user_id) WHERE user_id IS NOT NULL;
      ALTER TABLE metric_points ADD COLUMN stream TEXT NOT NULL DEFAULT '';
      CREATE INDEX metric_points_stream ON metric_points (name, stream, start_ns, time_ms);
    `,
  },
];

/** How the store is opened. */
export interface TelemetryStoreOptions {
  /** The SQLite file. */
  readonly path: string;
  /** Attribute keys copied into the indexed `span_experiments` table (string values only). */
  readonly isExperimentKey?: (key: string) => boolean;
}

const EMPTY_LIST = '[]';
const SPAN_COLUMNS = 19;
/** Browser spans per multi-row INSERT; 50 × 19 parameters stays far below SQLite's limit. */
const MULTI_ROW = 50;

/** The `spans` row of a span, in column order. */
function spanRow(span: SpanRecord): unknown[] {
  const startMs = nanosToMillis(span.startTimeUnixNano);
  const requestId = span.attributes['recommendation.request_id'];
  // Only the server's own spans name the visitor; a browser could claim anyone.
  const userId = span.trusted ? span.attributes['user.id'] : undefined;
  return [
    span.traceId,
    span.spanId,
    span.parentSpanId,
    span.name,
    span.kind,
    span.service,
    span.scope,
    span.startTimeUnixNano,
    span.endTimeUnixNano,
    startMs,
    nanosToMillis(span.endTimeUnixNano) - startMs,
    span.statusCode,
    span.statusMessage,
    span.trusted ? 1 : 0,
    typeof requestId === 'string' ? requestId : null,
    typeof userId === 'string' ? userId : null,
    JSON.stringify(span.attributes),
    span.events.length === 0 ? EMPTY_LIST : JSON.stringify(span.events),
    span.links.length === 0 ? EMPTY_LIST : JSON.stringify(span.links),
  ];
}

const defaultExperimentKey = (key: string): boolean => key.startsWith('experiment.') || key === 'user.cohort';

/** One stream's share of a metric total; see `metricTotals`. */
export interface MetricTotal {
  readonly attributes: Record<string, unknown>;
  readonly value: number;
}

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
  private readonly insertSpanRows: Database.Statement;
  private readonly insertExperiment: Database.Statement;
  private readonly insertPoint: Database.Statement;
  private readonly isExperimentKey: (key: string) => boolean;
  private readonly writeInTransaction: (spans: readonly SpanRecord[], points: readonly MetricPointRecord[]) => number;

  constructor(options: TelemetryStoreOptions) {
    this.db = new Database(options.path);
    configureConnection(this.db);
    migrate(this.db, MIGRATIONS);
    this.isExperimentKey = options.isExperimentKey ?? defaultExperimentKey;
    // Positional parameters: binding an object per row costs measurably at 100k spans/s.
    this.insertSpan = this.db.prepare(`
      INSERT OR IGNORE INTO spans (trace_id, span_id, parent_span_id, name, kind, service, scope,
        start_ns, end_ns, start_ms, duration_ms, status_code, status_message, trusted, request_id,
        user_id, attributes, events, links)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.insertExperiment = this.db.prepare('INSERT OR IGNORE INTO span_experiments (key, variant, span_id) VALUES (?, ?, ?)');
    this.insertPoint = this.db.prepare(`
      INSERT INTO metric_points (service, scope, name, unit, kind, temporality, monotonic,
        attributes, start_ns, time_ns, time_ms, value, count, sum, bucket_counts, explicit_bounds, trusted, stream)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.insertSpanRows = this.db.prepare(`
      INSERT OR IGNORE INTO spans (trace_id, span_id, parent_span_id, name, kind, service, scope,
        start_ns, end_ns, start_ms, duration_ms, status_code, status_message, trusted, request_id,
        user_id, attributes, events, links)
      VALUES ${Array(MULTI_ROW).fill(`(${Array(SPAN_COLUMNS).fill('?').join(', ')})`).join(', ')}`);
    this.writeInTransaction = this.db.transaction((spans: readonly SpanRecord[], points: readonly MetricPointRecord[]) => {
      let added = 0;
      let i = 0;
      // Browser spans go in MULTI_ROW at a time: one statement per chunk instead of per span.
      const untrusted = spans.filter((span) => !span.trusted);
      for (; i + MULTI_ROW <= untrusted.length; i += MULTI_ROW) {
        const params: unknown[] = [];
        for (let j = i; j < i + MULTI_ROW; j += 1) params.push(...spanRow(untrusted[j]!));
        added += this.insertSpanRows.run(params).changes;
      }
      for (; i < untrusted.length; i += 1) added += this.writeSpan(untrusted[i]!);
      for (const span of spans) if (span.trusted) added += this.writeSpan(span);
      for (const point of points) this.writePoint(point);
      return added;
    });
  }

  private writeSpan(span: SpanRecord): number {
    const result = this.insertSpan.run(spanRow(span));
    // Variants are read from the server's own spans; a browser's claim is kept in the JSON
    // but not indexed, which also keeps the public ingest path to one row per span.
    if (result.changes === 0 || !span.trusted) return result.changes;
    for (const key in span.attributes) {
      const value = span.attributes[key];
      if (typeof value === 'string' && this.isExperimentKey(key)) this.insertExperiment.run(key, value, result.lastInsertRowid);
    }
    return 1;
  }

  private writePoint(point: MetricPointRecord): void {
    const attributes = canonicalJson(point.attributes);
    const stream = createHash('sha1').update(`${point.resourceKey}\u0000${point.scope}\u0000${point.name}\u0000${attributes}`).digest('hex');
    this.insertPoint.run(
      point.service,
      point.scope,
      point.name,
      point.unit,
      point.kind,
      point.temporality,
      point.monotonic ? 1 : 0,
      attributes,
      point.startTimeUnixNano,
      point.timeUnixNano,
      nanosToMillis(point.timeUnixNano),
      point.value,
      point.count,
      point.sum,
      point.bucketCounts === null ? null : JSON.stringify(point.bucketCounts),
      point.explicitBounds === null ? null : JSON.stringify(point.explicitBounds),
      point.trusted ? 1 : 0,
      stream,
    );
  }

  /**
   * Stores spans and metric points in one transaction: all or nothing, committed when this
   * returns. A span already stored (same trace and span id) is skipped, so retried exports
   * are stored once. Returns how many spans were new.
   */
  write(spans: readonly SpanRecord[], points: readonly MetricPointRecord[]): number {
    return this.writeInTransaction(spans, points);
  }

  /** Stores spans; see `write`. */
  addSpans(spans: readonly SpanRecord[]): number {
    return this.write(spans, []);
  }

  /** Stores metric points; see `write`. */
  addMetricPoints(points: readonly MetricPointRecord[]): void {
    this.write([], points);
  }

  /** How many spans are stored. */
  spanCount(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM spans').get() as { n: number }).n;
  }

  /**
   * A monotonic sum's total per attribute set, with either temporality: delta points add up;
   * a cumulative stream (resource, scope, name, attributes, start time) contributes its latest
   * value only, and a restarted stream (a new start time) is a new stream that adds.
   */
  metricTotals(name: string): MetricTotal[] {
    const rows = this.db
      .prepare(
        `WITH latest AS (
           SELECT attributes, value, temporality,
                  row_number() OVER (PARTITION BY stream, start_ns ORDER BY time_ms DESC, id DESC) AS rank
           FROM metric_points WHERE name = ? AND kind = 'sum' AND temporality = 2
         )
         SELECT attributes, sum(value) AS value FROM (
           SELECT attributes, value FROM latest WHERE rank = 1
           UNION ALL
           SELECT attributes, value FROM metric_points WHERE name = ? AND kind = 'sum' AND temporality <> 2
         ) GROUP BY attributes ORDER BY attributes`,
      )
      .all(name, name) as { attributes: string; value: number }[];
    return rows.map((row) => ({ attributes: JSON.parse(row.attributes) as Record<string, unknown>, value: row.value }));
  }

  /** Deletes spans and points older than `cutoffMs` (ms since the epoch), at most `batch` spans. Returns how many spans went. */
  deleteOlderThan(cutoffMs: number, batch: number): number {
    return this.db.transaction(() => {
      const ids = this.db.prepare('SELECT id FROM spans WHERE start_ms < ? ORDER BY start_ms LIMIT ?').pluck().all(cutoffMs, batch) as number[];
      this.deleteSpans(ids);
      this.db.prepare('DELETE FROM metric_points WHERE id IN (SELECT id FROM metric_points WHERE time_ms < ? LIMIT ?)').run(cutoffMs, batch);
      return ids.length;
    })();
  }

  /** Deletes the oldest spans beyond `maxSpans`, at most `batch` of them. Returns how many went. */
  trimToMaxSpans(maxSpans: number, batch: number): number {
    return this.db.transaction(() => {
      const excess = this.spanCount() - maxSpans;
      if (excess <= 0) return 0;
      const ids = this.db.prepare('SELECT id FROM spans ORDER BY start_ms, id LIMIT ?').pluck().all(Math.min(excess, batch)) as number[];
      this.deleteSpans(ids);
      return ids.length;
    })();
  }

  private deleteSpans(ids: readonly number[]): void {
    const deleteSpan = this.db.prepare('DELETE FROM spans WHERE id = ?');
    const deleteExperiments = this.db.prepare('DELETE FROM span_experiments WHERE span_id = ?');
    for (const id of ids) {
      deleteExperiments.run(id);
      deleteSpan.run(id);
    }
  }

  /** Stops this connection from checkpointing at commit; see `checkpoint`. */
  disableAutoCheckpoint(): void {
    this.db.pragma('wal_autocheckpoint = 0');
  }

  /** Copies committed WAL pages into the database without blocking writers (PASSIVE). */
  checkpoint(): void {
    this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  /** `PRAGMA integrity_check`: "ok" for a sound file. */
  integrityCheck(): string {
    return this.db.pragma('integrity_check', { simple: true }) as string;
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
