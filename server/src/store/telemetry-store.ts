import { createHash, type Hash } from 'node:crypto';
import Database from 'better-sqlite3';
import { ATTR, METRIC, SPAN } from '../../../common/src/semconv.js';
import type { StoredMetricPoint, StoredSpan } from '../../../common/src/wire-types.js';
import type { MetricPointRecord, SpanRecord } from '../core/telemetry-records.js';
import { canonicalJson, nanosToMillis } from '../core/telemetry-records.js';
import { experimentClaims, judgeClick, servedRequestOf, type ClickHistory, type ServedRequest } from '../core/request-attribution.js';
import { addToBloom, BLOOM_BYTES, mightContain, SEGMENT_ROWS, segmentOf } from '../core/trace-bloom.js';
import { configureConnection, migrate, type Migration } from './migrations.js';

export type { StoredMetricPoint, StoredSpan } from '../../../common/src/wire-types.js';

const REQUEST_SPAN = SPAN.REQUEST;
const CLICK_SPAN = SPAN.CLICK;
/**
 * The metrics browsers report. The analysis counts a browser's points only for these: every
 * other metric it reads (impressions, latency) is the server's own, and a point a browser
 * posts under such a name is kept for inspection but never counted, as its span claims are.
 */
export const CLIENT_REPORTED_METRICS: ReadonlySet<string> = new Set([METRIC.CLICK_THROUGH]);
/** Bloom filter keys: trace ids and request ids share a segment's filter, apart by prefix. */
const traceKey = (traceId: string): string => `t:${traceId}`;
const requestKey = (requestId: string): string => `r:${requestId}`;

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
  {
    // Analysis tables, filled at ingest so results never scan span JSON: one narrow row per
    // served request, the request's variants, browser events naming a request, and a
    // per-minute rollup of downstream span durations (log buckets) and cache hits.
    version: 3,
    sql: `
      CREATE TABLE experiment_requests (
        key TEXT NOT NULL,
        variant TEXT NOT NULL,
        user_id TEXT NOT NULL,
        span_row INTEGER NOT NULL,
        request_id TEXT NOT NULL,
        cohort TEXT,
        start_ms REAL NOT NULL,
        duration_ms REAL NOT NULL,
        error INTEGER NOT NULL,
        impressions INTEGER NOT NULL,
        browser_events INTEGER NOT NULL DEFAULT 0,
        clicks INTEGER NOT NULL DEFAULT 0,
        mismatched_clicks INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (key, variant, user_id, span_row)
      ) WITHOUT ROWID;
      CREATE INDEX experiment_requests_request ON experiment_requests (request_id);
      CREATE TABLE click_keys (request_id TEXT NOT NULL, content_id TEXT NOT NULL, PRIMARY KEY (request_id, content_id)) WITHOUT ROWID;
      -- Clicks naming a request not (yet) stored; counted as rejected unless the request arrives.
      -- Everything else a browser reports is read back from spans by its indexed request_id.
      CREATE TABLE unmatched_clicks (
        id INTEGER PRIMARY KEY,
        request_id TEXT NOT NULL,
        start_ms REAL NOT NULL,
        claims TEXT NOT NULL
      );
      CREATE INDEX unmatched_clicks_request ON unmatched_clicks (request_id);
      CREATE TABLE metric_rollup (
        name TEXT NOT NULL,
        key TEXT NOT NULL,
        variant TEXT NOT NULL,
        minute INTEGER NOT NULL,
        total REAL NOT NULL,
        bucket_counts TEXT,
        explicit_bounds TEXT,
        PRIMARY KEY (name, key, variant, minute, explicit_bounds)
      ) WITHOUT ROWID;
      CREATE TABLE span_rollup (
        key TEXT NOT NULL,
        variant TEXT NOT NULL,
        cohort TEXT NOT NULL,
        name TEXT NOT NULL,
        minute INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        count INTEGER NOT NULL,
        cache_hits INTEGER NOT NULL,
        cache_misses INTEGER NOT NULL,
        PRIMARY KEY (key, variant, cohort, name, minute, bucket)
      ) WITHOUT ROWID;
    `,
  },
  {
    // Metric points become idempotent like spans: a point sent twice (the SDK resends a batch
    // whose answer its page never saw) is one point, the same stream at the same start and
    // time. And two structures no query reads since the analysis tables of version 3 go: the
    // per-span variant table and the index on the visitor column (the column stays).
    version: 4,
    sql: `
      DROP INDEX spans_user;
      DROP TABLE span_experiments;
      DELETE FROM metric_points WHERE id NOT IN (SELECT min(id) FROM metric_points GROUP BY name, stream, start_ns, time_ns);
      DROP INDEX metric_points_stream;
      CREATE UNIQUE INDEX metric_points_stream ON metric_points (name, stream, start_ns, time_ns);
    `,
  },
  {
    // No index on random ids: each insert into one on (trace_id, span_id) or request_id went
    // to a random page, so every commit wrote about a page per span and index. Retries are
    // recognised by an index that starts with the start time, which new spans extend at its
    // end (a retry sends the same span, start time included); traces and requests are found
    // through per-segment Bloom filters (trace-bloom.ts), filled for the rows copied here when
    // the store opens. Browser events that arrive before their request wait in
    // unmatched_events (clicks did already), found by the time they were received (an index
    // that only grows at its end) rather than by request id: such an event is received after
    // its request was served, so a request looks only at what came since it began.
    version: 5,
    sql: `
      ALTER TABLE unmatched_clicks RENAME TO unmatched_events;
      DROP INDEX unmatched_clicks_request;
      ALTER TABLE unmatched_events ADD COLUMN span_row INTEGER;
      ALTER TABLE unmatched_events ADD COLUMN click INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE unmatched_events ADD COLUMN received_ms REAL NOT NULL DEFAULT 0;
      DELETE FROM unmatched_events;
      INSERT INTO unmatched_events (request_id, start_ms, claims, span_row, click, received_ms)
        SELECT request_id, start_ms,
          (SELECT json_group_object(key, value) FROM json_each(spans.attributes) WHERE key LIKE 'experiment.%'),
          -- When they were received is not known: no later than now, which a request still to come began before.
          id, name = '${CLICK_SPAN}', (julianday('now') - 2440587.5) * 86400000.0
        FROM spans
        WHERE trusted = 0 AND request_id IS NOT NULL AND request_id NOT IN (SELECT request_id FROM experiment_requests)
        ORDER BY id;
      CREATE INDEX unmatched_events_received ON unmatched_events (received_ms);
      CREATE TABLE spans_v5 (
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
        user_id TEXT,
        attributes TEXT NOT NULL,
        events TEXT NOT NULL,
        links TEXT NOT NULL
      );
      INSERT INTO spans_v5 SELECT id, trace_id, span_id, parent_span_id, name, kind, service, scope, start_ns, end_ns,
        start_ms, duration_ms, status_code, status_message, trusted, request_id, user_id, attributes, events, links FROM spans;
      DROP TABLE spans;
      ALTER TABLE spans_v5 RENAME TO spans;
      CREATE UNIQUE INDEX spans_identity ON spans (start_ms, trace_id, span_id);
      CREATE TABLE span_blooms (segment INTEGER PRIMARY KEY, bloom BLOB NOT NULL);
    `,
  },
  {
    // Every served request, whoever it was for (request-attribution.ts): what it served (the
    // content ids, so that a click must name one), its population (experiment, forced,
    // holdout) and its variants, so that a browser event is judged with one lookup by request
    // id (time-ordered, so the key grows at its end). Clicks of the forced and holdout
    // populations are counted here; the experiment population's stay in experiment_requests,
    // which gains the clicks that named its request but broke a rule.
    version: 6,
    sql: `
      ALTER TABLE experiment_requests ADD COLUMN invalid_clicks INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE served_requests (
        request_id TEXT PRIMARY KEY,
        start_ms REAL NOT NULL,
        user_id TEXT NOT NULL,
        cohort TEXT,
        population TEXT NOT NULL,
        served_count INTEGER NOT NULL,
        content_ids TEXT,
        variants TEXT NOT NULL,
        browser_events INTEGER NOT NULL DEFAULT 0,
        clicks INTEGER NOT NULL DEFAULT 0,
        invalid_clicks INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
      CREATE INDEX served_requests_population ON served_requests (population, start_ms) WHERE population <> 'experiment';
      INSERT OR IGNORE INTO served_requests (request_id, start_ms, user_id, cohort, population, served_count, content_ids, variants)
        SELECT request_id, min(start_ms), min(user_id), min(cohort), 'experiment', max(impressions), NULL, json_group_object(key, variant)
        FROM experiment_requests GROUP BY request_id;
    `,
  },
  {
    // Retention by count removes browser rows first, in the order they arrived (row id): these
    // partial indexes find them without walking past the server's own rows, which a flood of
    // browser spans must never push out. They grow at their end, as ids do.
    version: 7,
    sql: `
      CREATE INDEX spans_untrusted_arrival ON spans (id) WHERE trusted = 0;
      CREATE INDEX metric_points_untrusted_arrival ON metric_points (id) WHERE trusted = 0;
    `,
  },
  {
    // A request's own cache hits and misses (the demo's recommendation server puts them on the
    // request span): the cache hit rate as a ratio over users, like every other guardrail.
    version: 8,
    sql: `
      ALTER TABLE experiment_requests ADD COLUMN cache_hits INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE experiment_requests ADD COLUMN cache_misses INTEGER NOT NULL DEFAULT 0;
    `,
  },
];

/** Log buckets per factor e of the duration rollup: 50 gives 2% wide buckets (percentiles within 1%). */
export const DURATION_BUCKETS_PER_E = 50;
const MINUTE_MS = 60_000;

/** Prefix of a click key that records a mismatched claim: apart from the genuine click's key, so a forged claim never takes its place. */
const MISMATCH_KEY_PREFIX = '\u0001';
/** How far before a request's start an event naming it is still looked for (ms); see `countEarlierEvents`. */
const EARLY_EVENT_MARGIN_MS = 1_000;
/** OTLP SpanKind SERVER: server spans are the request itself, not downstream work. */
const SERVER_KIND = 2;

/** The log bucket of a duration, as the rollup stores it. */
export function durationBucket(durationMs: number): number {
  return Math.round(Math.log(Math.max(durationMs, 0.001)) * DURATION_BUCKETS_PER_E);
}

/** How the store is opened. */
export interface TelemetryStoreOptions {
  /** The SQLite file. */
  readonly path: string;
  /** Attribute keys whose string values on trusted spans are variants for the analysis tables. */
  readonly isExperimentKey?: (key: string) => boolean;
  /**
   * `service.name` of the recommendation server: its SERVER spans are the requests themselves
   * (their latency is the request's), so they stay out of the downstream rollup. Every other
   * service's spans, server spans included (the feature store's one span per call), are
   * downstream work. Without it, no server span is rolled up.
   */
  readonly requestService?: string;
}

/**
 * One `spans` row's values in column order. A string parameter costs the driver two copies
 * (about half a microsecond here, as much as a third of a small row's insert), so the values
 * nearly every span has — no status message, no events, no links — are sent as NULL and
 * written by SQL.
 */
const SPAN_VALUES = ['?', '?', '?', '?', '?', '?', '?', '?', '?', '?', '?', '?', "coalesce(?, '')", '?', '?', '?', '?', "coalesce(?, '[]')", "coalesce(?, '[]')"];
/** Browser spans (or unmatched events) per multi-row INSERT; 50 × 19 parameters stays far below SQLite's limit. */
const MULTI_ROW = 50;
/** One `unmatched_events` row's values; a view (not a click) claims nothing, sent as NULL. */
const UNMATCHED_VALUES = ['?', '?', "coalesce(?, '{}')", '?', '?', '?'];

/** `VALUES (…), …`: `rows` groups of the row's value expressions, for one multi-row INSERT. */
function valuesList(row: readonly string[], rows: number): string {
  return `VALUES ${Array(rows).fill(`(${row.join(', ')})`).join(', ')}`;
}

/** A span with its `spans` row, made before the write lock is taken (see `prepareSpans`). */
export interface PreparedSpan {
  readonly span: SpanRecord;
  readonly row: readonly unknown[];
}

/**
 * The rows of spans about to be written. Making them (JSON of the attributes, times in ms)
 * is the costliest part of a write that needs no database, so the ingest workers do it in
 * parallel, before they queue for the one write lock.
 */
export function prepareSpans(spans: readonly SpanRecord[]): PreparedSpan[] {
  return spans.map((span) => ({ span, row: spanRow(span) }));
}

/** A metric point with its stream identity and attributes' JSON, made before the write lock is taken (see `preparePoints`). */
export interface PreparedPoint {
  readonly point: MetricPointRecord;
  readonly attributes: string;
  /** SHA-1 of resource, scope, name and attributes: the stream whose cumulative points supersede each other. */
  readonly stream: string;
}

/**
 * The stream identities of points about to be written. A resource's key (all its attributes:
 * up to the decode limits, half a megabyte) is hashed once, not once per point, and outside
 * the write lock: hashed per point inside it, one small post of 20,000 points held every
 * other export back for most of a minute.
 */
export function preparePoints(points: readonly MetricPointRecord[]): PreparedPoint[] {
  const resources = new Map<string, Hash>();
  return points.map((point) => {
    let resource = resources.get(point.resourceKey);
    if (resource === undefined) resources.set(point.resourceKey, (resource = createHash('sha1').update(`${point.resourceKey}\u0000`)));
    const attributes = canonicalJson(point.attributes);
    // The same digest as hashing the whole key at once, so streams stored before keep their identity.
    const stream = resource.copy().update(`${point.scope}\u0000${point.name}\u0000${attributes}`).digest('hex');
    return { point, attributes, stream };
  });
}

/** The `spans` row of a span, in column order. */
function spanRow(span: SpanRecord): unknown[] {
  const startMs = nanosToMillis(span.startTimeUnixNano);
  const requestId = span.attributes[ATTR.REQUEST_ID];
  // Only the server's own spans name the visitor; a browser could claim anyone.
  const userId = span.trusted ? span.attributes[ATTR.USER_ID] : undefined;
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
    span.statusMessage === '' ? null : span.statusMessage,
    span.trusted ? 1 : 0,
    typeof requestId === 'string' ? requestId : null,
    typeof userId === 'string' ? userId : null,
    JSON.stringify(span.attributes),
    span.events.length === 0 ? null : JSON.stringify(span.events),
    span.links.length === 0 ? null : JSON.stringify(span.links),
  ];
}

/** A span row just written: what its segment's filter and its browser event need. */
interface NewRow {
  readonly row: number;
  readonly traceId: string;
  readonly requestId: string | null;
  /** The span it was made from; unknown when the filters are filled for rows already stored. */
  readonly span: SpanRecord | undefined;
}

/** The `NewRow` of a span stored as `row` (its request id as `spanRow` stores it). */
function newRow(row: number, span: SpanRecord): NewRow {
  const requestId = span.attributes[ATTR.REQUEST_ID];
  return { row, traceId: span.traceId, requestId: typeof requestId === 'string' ? requestId : null, span };
}

const defaultExperimentKey = (key: string): boolean => key.startsWith(ATTR.EXPERIMENT_PREFIX) || key === ATTR.USER_COHORT;



interface SpanRow {
  id: number;
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  name: string;
  kind: number;
  service: string;
  start_ns: string;
  start_ms: number;
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
  private readonly insertRequest: Database.Statement;
  private readonly insertServed: Database.Statement;
  private readonly servedById: Database.Statement;
  private readonly countEvent: Database.Statement;
  private readonly countServedEvent: Database.Statement;
  private readonly countClick: Database.Statement;
  private readonly countMismatch: Database.Statement;
  private readonly countInvalid: Database.Statement;
  private readonly countServedClick: Database.Statement;
  private readonly countServedInvalid: Database.Statement;
  private readonly insertClickKey: Database.Statement;
  private readonly hasClickKey: Database.Statement;
  private readonly countedClicksOf: Database.Statement;
  private readonly unmatchedSince: Database.Statement;
  private readonly spanEvent: Database.Statement;
  private readonly forgetUnmatched: Database.Statement;
  /** Requests stored in this transaction that browser events may have come before: id → when it began (ms). */
  private readonly servedInTransaction = new Map<string, number>();
  /** When this transaction began (ms since the epoch, the server's clock). */
  private transactionStartMs = 0;
  /** Served requests looked up in this transaction (null: not served); a commit names few requests many times. */
  private readonly servedOfRequest = new Map<string, ServedRequest | null>();
  private readonly readMetricRollup: Database.Statement;
  private readonly writeMetricRollup: Database.Statement;
  /** Metric rollup cells of the transaction being written, keyed by the cell. */
  private readonly pendingMetricRollup = new Map<string, { cell: readonly [string, string, string, number, string]; total: number; counts: number[] | null }>();
  private readonly insertUnmatched: Database.Statement;
  private readonly insertUnmatchedRows: Database.Statement;
  /** Parameters of the unmatched events of the transaction, written together once its spans are (see `flushUnmatched`). */
  private pendingUnmatched: unknown[] = [];
  private readonly upsertRollup: Database.Statement;
  private readonly insertPoint: Database.Statement;
  private readonly lastRow: Database.Statement;
  private readonly rowsAfter: Database.Statement;
  private readonly bloomOf: Database.Statement;
  private readonly writeBloom: Database.Statement;
  private readonly isExperimentKey: (key: string) => boolean;
  private readonly requestService: string | undefined;
  /** Downstream span rollup cells of the transaction being written, keyed by the cell. */
  private readonly pendingRollup = new Map<string, { cell: readonly [string, string, string, string, number, number]; count: number; hits: number; misses: number }>();
  private readonly writeInTransaction: (spans: readonly PreparedSpan[], points: readonly PreparedPoint[]) => number;

  constructor(options: TelemetryStoreOptions) {
    this.db = new Database(options.path);
    configureConnection(this.db);
    migrate(this.db, MIGRATIONS);
    this.isExperimentKey = options.isExperimentKey ?? defaultExperimentKey;
    this.requestService = options.requestService;
    // Positional parameters: binding an object per row costs measurably at 100k spans/s.
    this.insertSpan = this.db.prepare(`
      INSERT OR IGNORE INTO spans (trace_id, span_id, parent_span_id, name, kind, service, scope,
        start_ns, end_ns, start_ms, duration_ms, status_code, status_message, trusted, request_id,
        user_id, attributes, events, links)
      ${valuesList(SPAN_VALUES, 1)}`);
    this.insertRequest = this.db.prepare(`INSERT OR IGNORE INTO experiment_requests
      (key, variant, user_id, span_row, request_id, cohort, start_ms, duration_ms, error, impressions, cache_hits, cache_misses) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.insertServed = this.db.prepare(`INSERT OR IGNORE INTO served_requests
      (request_id, start_ms, user_id, cohort, population, served_count, content_ids, variants) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
    this.servedById = this.db.prepare('SELECT start_ms, population, served_count, content_ids, variants FROM served_requests WHERE request_id = ?').raw();
    this.countEvent = this.db.prepare('UPDATE experiment_requests SET browser_events = browser_events + 1 WHERE request_id = ?');
    this.countServedEvent = this.db.prepare('UPDATE served_requests SET browser_events = browser_events + 1 WHERE request_id = ?');
    this.countClick = this.db.prepare('UPDATE experiment_requests SET clicks = clicks + 1 WHERE request_id = ?');
    this.countMismatch = this.db.prepare('UPDATE experiment_requests SET mismatched_clicks = mismatched_clicks + 1 WHERE request_id = ? AND key = ?');
    this.countInvalid = this.db.prepare('UPDATE experiment_requests SET invalid_clicks = invalid_clicks + 1 WHERE request_id = ?');
    this.countServedClick = this.db.prepare('UPDATE served_requests SET clicks = clicks + 1 WHERE request_id = ?');
    this.countServedInvalid = this.db.prepare('UPDATE served_requests SET invalid_clicks = invalid_clicks + 1 WHERE request_id = ?');
    this.insertClickKey = this.db.prepare('INSERT OR IGNORE INTO click_keys VALUES (?, ?)');
    this.hasClickKey = this.db.prepare('SELECT 1 FROM click_keys WHERE request_id = ? AND content_id = ?').pluck();
    this.countedClicksOf = this.db.prepare(`SELECT count(*) FROM click_keys WHERE request_id = ? AND substr(content_id, 1, 1) <> '${MISMATCH_KEY_PREFIX}'`).pluck();
    this.unmatchedSince = this.db.prepare('SELECT id, request_id, span_row, start_ms FROM unmatched_events WHERE received_ms >= ? ORDER BY id').raw();
    this.spanEvent = this.db.prepare('SELECT name, attributes FROM spans WHERE id = ?');
    this.forgetUnmatched = this.db.prepare('DELETE FROM unmatched_events WHERE id = ?');
    this.readMetricRollup = this.db.prepare('SELECT total, bucket_counts AS bucketCounts FROM metric_rollup WHERE name = ? AND key = ? AND variant = ? AND minute = ? AND explicit_bounds IS ?');
    this.writeMetricRollup = this.db.prepare('INSERT OR REPLACE INTO metric_rollup VALUES (?, ?, ?, ?, ?, ?, ?)');
    const unmatchedInsert = 'INSERT INTO unmatched_events (request_id, start_ms, claims, span_row, click, received_ms)';
    this.insertUnmatched = this.db.prepare(`${unmatchedInsert} ${valuesList(UNMATCHED_VALUES, 1)}`);
    this.insertUnmatchedRows = this.db.prepare(`${unmatchedInsert} ${valuesList(UNMATCHED_VALUES, MULTI_ROW)}`);
    this.upsertRollup = this.db.prepare(`
      INSERT INTO span_rollup VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT DO UPDATE SET count = count + excluded.count, cache_hits = cache_hits + excluded.cache_hits, cache_misses = cache_misses + excluded.cache_misses`);
    this.insertPoint = this.db.prepare(`
      INSERT OR IGNORE INTO metric_points (service, scope, name, unit, kind, temporality, monotonic,
        attributes, start_ns, time_ns, time_ms, value, count, sum, bucket_counts, explicit_bounds, trusted, stream)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.insertSpanRows = this.db.prepare(`
      INSERT OR IGNORE INTO spans (trace_id, span_id, parent_span_id, name, kind, service, scope,
        start_ns, end_ns, start_ms, duration_ms, status_code, status_message, trusted, request_id,
        user_id, attributes, events, links)
      ${valuesList(SPAN_VALUES, MULTI_ROW)}`);
    this.lastRow = this.db.prepare('SELECT coalesce(max(id), 0) FROM spans').pluck();
    this.rowsAfter = this.db.prepare('SELECT id, trace_id, span_id, request_id FROM spans WHERE id > ? ORDER BY id').raw();
    this.bloomOf = this.db.prepare('SELECT bloom FROM span_blooms WHERE segment = ?').pluck();
    this.writeBloom = this.db.prepare('INSERT OR REPLACE INTO span_blooms (segment, bloom) VALUES (?, ?)');
    this.writeInTransaction = this.db.transaction((spans: readonly PreparedSpan[], points: readonly PreparedPoint[]) => {
      const lastRow = this.lastRow.get() as number;
      this.servedOfRequest.clear();
      this.servedInTransaction.clear();
      this.pendingMetricRollup.clear();
      this.pendingUnmatched = [];
      this.transactionStartMs = Date.now();
      // Browser spans first, MULTI_ROW at a time (one statement per chunk instead of per span),
      // then the server's own, each with its analysis rows; rows are numbered in this order.
      const untrusted = spans.filter((prepared) => !prepared.span.trusted);
      const ordered = [...untrusted, ...spans.filter((prepared) => prepared.span.trusted)];
      let i = 0;
      let inserted = 0;
      for (; i + MULTI_ROW <= untrusted.length; i += MULTI_ROW) {
        const params: unknown[] = [];
        for (let j = i; j < i + MULTI_ROW; j += 1) params.push(...untrusted[j]!.row);
        inserted += this.insertSpanRows.run(params).changes;
      }
      for (; i < ordered.length; i += 1) inserted += this.writeSpan(ordered[i]!);
      this.countEarlierEvents();
      // When every span was new, row ids are the next ones in order and need not be read back.
      const added = this.indexNewRows(
        inserted === ordered.length ? ordered.map((prepared, k) => newRow(lastRow + 1 + k, prepared.span)) : this.rowsAfterWith(lastRow, ordered.map((prepared) => prepared.span)),
      );
      this.flushRollup();
      for (const point of points) this.writePoint(point);
      this.flushMetricRollup();
      return added;
    });
    // Rows copied by the version-5 migration (or left by a build without filters) get theirs,
    // once: the write lock is only taken, and the question asked again under it, when needed.
    const unfiltered = () => (this.lastRow.get() as number) > 0 && this.db.prepare('SELECT count(*) FROM span_blooms').pluck().get() === 0;
    if (unfiltered()) {
      this.db.transaction(() => {
        if (unfiltered()) this.indexNewRows(this.rowsAfterWith(0, []));
      }).immediate();
    }
  }

  /**
   * The rows stored after `afterRow`, each with its span among `ordered` (the spans just
   * inserted, in insertion order). A span that was already stored (a retry) got no row, so
   * walking both in order tells new spans from retried ones.
   */
  private rowsAfterWith(afterRow: number, ordered: readonly SpanRecord[]): NewRow[] {
    const rows: NewRow[] = [];
    let next = 0;
    for (const [row, traceId, spanId, requestId] of this.rowsAfter.iterate(afterRow) as IterableIterator<[number, string, string, string | null]>) {
      while (next < ordered.length && (ordered[next]!.traceId !== traceId || ordered[next]!.spanId !== spanId)) next += 1;
      rows.push({ row, traceId, requestId, span: next < ordered.length ? ordered[next++]! : undefined });
    }
    return rows;
  }

  /**
   * Puts new rows into their segments' Bloom filters and counts the new browser spans
   * against the requests they name (a retry's event was counted when it first came).
   * Returns how many rows are new.
   */
  private indexNewRows(rows: readonly NewRow[]): number {
    const blooms = new Map<number, Uint8Array>();
    for (const { row, traceId, requestId } of rows) {
      const segment = segmentOf(row);
      let bloom = blooms.get(segment);
      if (bloom === undefined) blooms.set(segment, (bloom = new Uint8Array(BLOOM_BYTES)));
      addToBloom(bloom, traceKey(traceId));
      if (requestId !== null) addToBloom(bloom, requestKey(requestId));
    }
    for (const { row, span } of rows) if (span !== undefined && !span.trusted) this.writeBrowserEvent(span, row);
    this.flushUnmatched();
    for (const [segment, bloom] of blooms) {
      const stored = this.bloomOf.get(segment) as Buffer | undefined;
      if (stored !== undefined && stored.length === BLOOM_BYTES) for (let i = 0; i < BLOOM_BYTES; i += 1) bloom[i]! |= stored[i]!;
      this.writeBloom.run(segment, bloom);
    }
    return rows.length;
  }

  /** Writes the transaction's unmatched events, MULTI_ROW to a statement (one native call instead of fifty). */
  private flushUnmatched(): void {
    const params = this.pendingUnmatched;
    const columns = UNMATCHED_VALUES.length;
    const chunk = columns * MULTI_ROW;
    let i = 0;
    for (; i + chunk <= params.length; i += chunk) this.insertUnmatchedRows.run(params.slice(i, i + chunk));
    for (; i < params.length; i += columns) this.insertUnmatched.run(params.slice(i, i + columns));
    this.pendingUnmatched = [];
  }

  private writeSpan({ span, row }: PreparedSpan): number {
    const result = this.insertSpan.run(row);
    // Variants are read from the server's own spans; a browser's claim is kept in the JSON
    // (and its browser event) but not indexed as a variant.
    if (result.changes === 0 || !span.trusted) return result.changes;
    if (span.name === REQUEST_SPAN) {
      this.writeServedRequest(span, result.lastInsertRowid);
      return 1;
    }
    const variants: [string, string][] = [];
    for (const key in span.attributes) {
      const value = span.attributes[key];
      if (typeof value === 'string' && this.isExperimentKey(key)) variants.push([key, value]);
    }
    if (variants.length > 0) this.writeDownstreamRollup(span, variants);
    return 1;
  }

  /**
   * The served request a trusted `recommendation.request` span records (every population),
   * and for the experiment population its row per experiment key.
   */
  private writeServedRequest(span: SpanRecord, row: number | bigint): void {
    const startMs = nanosToMillis(span.startTimeUnixNano);
    const served = servedRequestOf(span.attributes, startMs, this.isExperimentKey);
    if (served === undefined) return;
    const durationMs = nanosToMillis(span.endTimeUnixNano) - startMs;
    const userId = span.attributes[ATTR.USER_ID];
    const cohort = span.attributes[ATTR.USER_COHORT];
    const user = typeof userId === 'string' ? userId : '';
    const cohortValue = typeof cohort === 'string' ? cohort : null;
    const added = this.insertServed.run(
      served.requestId,
      startMs,
      user,
      cohortValue,
      served.population,
      served.count,
      served.contentIds === null ? null : JSON.stringify(served.contentIds),
      JSON.stringify(served.variants),
    ).changes;
    if (added === 0) return;
    this.servedOfRequest.set(served.requestId, served);
    this.servedInTransaction.set(served.requestId, startMs);
    if (served.population !== 'experiment') return;
    const hits = span.attributes[ATTR.CACHE_HITS];
    const misses = span.attributes[ATTR.CACHE_MISSES];
    const cacheHits = typeof hits === 'number' && Number.isFinite(hits) ? hits : 0;
    const cacheMisses = typeof misses === 'number' && Number.isFinite(misses) ? misses : 0;
    for (const key in served.variants) {
      this.insertRequest.run(key, served.variants[key], user, row, served.requestId, cohortValue, startMs, durationMs, span.statusCode === 2 ? 1 : 0, served.count, cacheHits, cacheMisses);
    }
  }

  /** The downstream rollup of a trusted span that carries variants (not the request span). */
  private writeDownstreamRollup(span: SpanRecord, variants: readonly [string, string][]): void {
    // A forced (QA) visitor's downstream work is not its variant's: it was not randomised.
    if (span.attributes[ATTR.EXPERIMENT_FORCED] === true) return;
    const startMs = nanosToMillis(span.startTimeUnixNano);
    const durationMs = nanosToMillis(span.endTimeUnixNano) - startMs;
    const cohort = span.attributes[ATTR.USER_COHORT];
    if (span.kind === SERVER_KIND && (this.requestService === undefined || span.service === this.requestService)) return;
    const hits = span.attributes[ATTR.CACHE_HITS];
    const misses = span.attributes[ATTR.CACHE_MISSES];
    const minute = Math.floor(startMs / MINUTE_MS);
    const bucket = durationBucket(durationMs);
    for (const [key, variant] of variants) {
      if (key === ATTR.USER_COHORT) continue;
      const cell = [key, variant, typeof cohort === 'string' ? cohort : '', span.name, minute, bucket] as const;
      const id = cell.join('\u0000');
      const pending = this.pendingRollup.get(id);
      if (pending === undefined) this.pendingRollup.set(id, { cell, count: 1, hits: typeof hits === 'number' ? hits : 0, misses: typeof misses === 'number' ? misses : 0 });
      else {
        pending.count += 1;
        pending.hits += typeof hits === 'number' ? hits : 0;
        pending.misses += typeof misses === 'number' ? misses : 0;
      }
    }
  }

  /**
   * Browser events that arrived before their request was stored count now. They were
   * received after the request began, so one look at what came since the earliest request of
   * this transaction finds them all, however many requests it stores. The margin covers the
   * clock moving back a little between the server's span and the ingest worker's commit.
   */
  private countEarlierEvents(): void {
    if (this.servedInTransaction.size === 0) return;
    const since = Math.min(...this.servedInTransaction.values()) - EARLY_EVENT_MARGIN_MS;
    const earlier = (this.unmatchedSince.all(since) as [number, string, number, number][]).filter(([, requestId]) => this.servedInTransaction.has(requestId));
    for (const [id, requestId, row, startMs] of earlier) {
      this.forgetUnmatched.run(id);
      const event = this.spanEvent.get(row) as { name: string; attributes: string } | undefined;
      if (event !== undefined) this.countBrowserEvent(requestId, event.name, JSON.parse(event.attributes) as SpanRecord['attributes'], startMs, null);
    }
  }

  /** Writes the transaction's rollup cells: one upsert per cell, however many spans fell in it. */
  private flushRollup(): void {
    for (const { cell, count, hits, misses } of this.pendingRollup.values()) this.upsertRollup.run(...cell, count, hits, misses);
    this.pendingRollup.clear();
  }

  /** A browser span (stored as `row`) that names a served request: counted against it (see `countBrowserEvent`). */
  private writeBrowserEvent(span: SpanRecord, row: number): void {
    const requestId = span.attributes[ATTR.REQUEST_ID];
    if (typeof requestId === 'string') this.countBrowserEvent(requestId, span.name, span.attributes, nanosToMillis(span.startTimeUnixNano), row);
  }

  /** The served request a browser event names; undefined for a request not (yet) stored. */
  private servedRequest(requestId: string): ServedRequest | undefined {
    let served = this.servedOfRequest.get(requestId);
    if (served === undefined) {
      const found = this.servedById.get(requestId) as [number, ServedRequest['population'], number, string | null, string] | undefined;
      served =
        found === undefined
          ? null
          : {
              requestId,
              startMs: found[0],
              population: found[1],
              count: found[2],
              contentIds: found[3] === null ? null : (JSON.parse(found[3]) as string[]),
              variants: JSON.parse(found[4]) as Record<string, string>,
            };
      this.servedOfRequest.set(requestId, served);
    }
    return served ?? undefined;
  }

  /** A request's clicks so far, as the attribution rules ask for them. */
  private clickHistory(requestId: string): ClickHistory {
    return {
      hasCounted: (contentId) => this.hasClickKey.get(requestId, contentId) !== undefined,
      countedClicks: () => this.countedClicksOf.get(requestId) as number,
      hasMismatched: (contentId) => this.hasClickKey.get(requestId, MISMATCH_KEY_PREFIX + contentId) !== undefined,
    };
  }

  /**
   * Counts a browser event against the request it names, by the attribution rules
   * (`core/request-attribution.ts`): any event shows delivery; a click is judged and counted,
   * for the experiment population in its request's rows, for the others in the served
   * request's own. An event naming no stored request waits as unmatched until its request
   * comes (`row` null when replaying such an event, which is then known to match); until then
   * a click counts as a click on an unknown request.
   */
  private countBrowserEvent(requestId: string, name: string, attributes: SpanRecord['attributes'], startMs: number, row: number | null): void {
    const served = this.servedRequest(requestId);
    if (served === undefined) {
      const click = name === CLICK_SPAN;
      if (row !== null) this.pendingUnmatched.push(requestId, startMs, click ? JSON.stringify(experimentClaims(attributes)) : null, row, click ? 1 : 0, this.transactionStartMs);
      return;
    }
    const experiment = served.population === 'experiment';
    (experiment ? this.countEvent : this.countServedEvent).run(requestId);
    if (name !== CLICK_SPAN) return;
    const contentId = attributes[ATTR.CONTENT_ID];
    const verdict = judgeClick(served, { startMs, contentId: typeof contentId === 'string' ? contentId : undefined, claims: attributes }, this.clickHistory(requestId));
    switch (verdict.outcome) {
      case 'counted':
        this.insertClickKey.run(requestId, contentId);
        (experiment ? this.countClick : this.countServedClick).run(requestId);
        return;
      case 'mismatch':
        this.insertClickKey.run(requestId, MISMATCH_KEY_PREFIX + String(contentId));
        if (experiment) for (const key of verdict.keys) this.countMismatch.run(requestId, key);
        return;
      case 'invalid':
        (experiment ? this.countInvalid : this.countServedInvalid).run(requestId);
        return;
      default:
        return;
    }
  }

  /**
   * Delta points are also added into a per-minute rollup per experiment variant, so the
   * analysis never scans points (cumulative points are read from the points themselves).
   */
  private rollUpPoint(point: MetricPointRecord): void {
    if (point.temporality !== 1 || point.kind === 'gauge') return;
    if (!point.trusted && !CLIENT_REPORTED_METRICS.has(point.name)) return;
    const minute = Math.floor(nanosToMillis(point.timeUnixNano) / MINUTE_MS);
    // Part of the primary key, so never NULL: sums have no bounds.
    const bounds = point.explicitBounds === null ? '' : JSON.stringify(point.explicitBounds);
    const value = point.kind === 'histogram' ? (point.count ?? 0) : (point.value ?? 0);
    for (const key in point.attributes) {
      const variant = point.attributes[key];
      if (typeof variant !== 'string' || !key.startsWith(ATTR.EXPERIMENT_PREFIX)) continue;
      const cell = [point.name, key, variant, minute, bounds] as const;
      const id = cell.join('\u0000');
      const pending = this.pendingMetricRollup.get(id);
      if (pending === undefined) this.pendingMetricRollup.set(id, { cell, total: value, counts: point.bucketCounts === null ? null : [...point.bucketCounts] });
      else {
        pending.total += value;
        if (pending.counts !== null && point.bucketCounts !== null) pending.counts = pending.counts.map((c, i) => c + (point.bucketCounts![i] ?? 0));
      }
    }
  }

  /** Adds the transaction's metric rollup cells to the stored ones: one read and one write per cell, however many points fell in it. */
  private flushMetricRollup(): void {
    for (const { cell, total, counts } of this.pendingMetricRollup.values()) {
      const existing = this.readMetricRollup.get(...cell) as { total: number; bucketCounts: string | null } | undefined;
      let merged = counts;
      if (existing !== undefined && merged !== null && existing.bucketCounts !== null) {
        const previous = JSON.parse(existing.bucketCounts) as number[];
        merged = merged.map((c, i) => c + (previous[i] ?? 0));
      }
      const [name, key, variant, minute, bounds] = cell;
      this.writeMetricRollup.run(name, key, variant, minute, (existing?.total ?? 0) + total, merged === null ? null : JSON.stringify(merged), bounds);
    }
    this.pendingMetricRollup.clear();
  }

  private writePoint({ point, attributes, stream }: PreparedPoint): void {
    const inserted = this.insertPoint.run(
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
    // A point already stored (a resent batch) is not added to the rollup again.
    if (inserted.changes > 0) this.rollUpPoint(point);
  }

  /**
   * Stores spans and metric points in one transaction: all or nothing, committed when this
   * returns. A span already stored (same trace and span id, and the same start time, as a
   * retried export sends it) is skipped, so retried exports are stored once. Returns how
   * many spans were new.
   */
  write(spans: readonly SpanRecord[], points: readonly MetricPointRecord[]): number {
    return this.writeInTransaction(prepareSpans(spans), preparePoints(points));
  }

  /** `write` with rows made beforehand by `prepareSpans` and `preparePoints`. */
  writePrepared(spans: readonly PreparedSpan[], points: readonly PreparedPoint[]): number {
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

  /** Deletes spans and points older than `cutoffMs` (ms since the epoch), at most `batch` spans. Returns how many spans went. */
  deleteOlderThan(cutoffMs: number, batch: number): number {
    return this.db.transaction(() => {
      const ids = this.db.prepare('SELECT id FROM spans WHERE start_ms < ? ORDER BY start_ms LIMIT ?').pluck().all(cutoffMs, batch) as number[];
      this.deleteSpans(ids);
      this.forgetEmptySegments();
      this.db.prepare('DELETE FROM metric_points WHERE id IN (SELECT id FROM metric_points WHERE time_ms < ? LIMIT ?)').run(cutoffMs, batch);
      // Stored in arrival order, so the oldest rows are the first ids; no time index needed. By
      // when they were received, not the time a browser claims: future-dated events at the
      // head would otherwise keep every later one forever.
      this.db.prepare('DELETE FROM unmatched_events WHERE id IN (SELECT id FROM unmatched_events ORDER BY id LIMIT ?) AND received_ms < ?').run(batch, cutoffMs);
      this.db.prepare('DELETE FROM span_rollup WHERE minute < ?').run(Math.floor(cutoffMs / MINUTE_MS));
      this.db.prepare('DELETE FROM metric_rollup WHERE minute < ?').run(Math.floor(cutoffMs / MINUTE_MS));
      return ids.length;
    }).immediate();
  }

  /** How many spans are stored beyond `maxSpans` (a read: it needs no write lock). */
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
      this.forgetEmptySegments();
      return untrusted.length + trusted.length;
    }).immediate();
  }

  /** How many metric points are stored beyond `maxPoints` (a read). */
  pointsBeyond(maxPoints: number): number {
    return Math.max(0, (this.db.prepare('SELECT count(*) FROM metric_points').pluck().get() as number) - maxPoints);
  }

  /** Deletes `count` metric points, the browser's first, by arrival (see `deleteOldestSpans`). Returns how many went. */
  deleteOldestPoints(count: number): number {
    return this.db.transaction(() => {
      const untrusted = this.db
        .prepare('DELETE FROM metric_points WHERE id IN (SELECT id FROM metric_points INDEXED BY metric_points_untrusted_arrival WHERE trusted = 0 ORDER BY id LIMIT ?)')
        .run(count).changes;
      const trusted = untrusted < count ? this.db.prepare('DELETE FROM metric_points WHERE id IN (SELECT id FROM metric_points WHERE trusted = 1 ORDER BY id LIMIT ?)').run(count - untrusted).changes : 0;
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
    for (const id of ids) {
      const requestId = requestOf.get(id) as string | undefined;
      if (typeof requestId === 'string') {
        deleteRequest.run(requestId);
        deleteClickKeys.run(requestId);
        deleteServed.run(requestId);
      }
      deleteSpan.run(id);
    }
  }

  /** Drops the filters of segments whose rows are all gone (all of them when no span is left). */
  private forgetEmptySegments(): void {
    const first = this.db.prepare('SELECT min(id) FROM spans').pluck().get() as number | null;
    if (first === null) this.db.prepare('DELETE FROM span_blooms').run();
    else this.db.prepare('DELETE FROM span_blooms WHERE segment < ?').run(segmentOf(first));
  }

  /** Stops this connection from checkpointing at commit; see `checkpoint`. */
  disableAutoCheckpoint(): void {
    this.db.pragma('wal_autocheckpoint = 0');
  }

  /** Copies committed WAL pages into the database without blocking writers (PASSIVE); returns how many pages the WAL holds. */
  checkpoint(): number {
    const [result] = this.db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
    return result?.log ?? 0;
  }

  /**
   * Copies the rest of the WAL into the database and has the next commit write the WAL from
   * its start again (RESTART), waiting at most `busyTimeoutMs` for readers: call it with
   * writers kept out, after `checkpoint` has copied the bulk. Returns false when a reader held
   * it back (the next call tries again).
   */
  restartWal(busyTimeoutMs: number): boolean {
    const previous = this.db.pragma('busy_timeout', { simple: true }) as number;
    this.db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    try {
      const [result] = this.db.pragma('wal_checkpoint(RESTART)') as { busy: number }[];
      return result?.busy !== 1;
    } finally {
      this.db.pragma(`busy_timeout = ${previous}`);
    }
  }

  /** The size a WAL file is truncated to when it starts over (`PRAGMA journal_size_limit`). */
  limitWalSize(bytes: number): void {
    this.db.pragma(`journal_size_limit = ${bytes}`);
  }

  /** `PRAGMA integrity_check`: "ok" for a sound file. */
  integrityCheck(): string {
    return this.db.pragma('integrity_check', { simple: true }) as string;
  }

  /** The segments whose Bloom filter may hold `key`, newest first. */
  private segmentsWith(key: string): number[] {
    const segments: number[] = [];
    // Collected first: the connection runs nothing else while it iterates.
    for (const [segment, bloom] of this.db.prepare('SELECT segment, bloom FROM span_blooms ORDER BY segment DESC').raw().iterate() as IterableIterator<[number, Buffer]>) {
      if (mightContain(bloom, key)) segments.push(segment);
    }
    return segments;
  }

  /** Rows of the segments that may hold `key` and match `where` (on columns of `spans`). */
  private rowsInSegments(key: string, where: string, params: readonly unknown[]): SpanRow[] {
    const inSegment = this.db.prepare(`SELECT * FROM spans WHERE id >= ? AND id < ? AND ${where}`);
    return this.segmentsWith(key).flatMap((segment) => inSegment.all(segment * SEGMENT_ROWS, (segment + 1) * SEGMENT_ROWS, ...params) as SpanRow[]);
  }

  /**
   * Every stored span of a trace, in start order: only the segments whose filter may hold
   * the trace are read.
   */
  getTrace(traceId: string): StoredSpan[] {
    const rows = this.rowsInSegments(traceKey(traceId), 'trace_id = ?', [traceId]);
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
      const rows = this.rowsInSegments(
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
    return this.segmentsWith(traceKey(traceId));
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
      const keys = this.segmentsWith(requestKey(query.requestId))
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

  close(): void {
    this.db.close();
  }
}
