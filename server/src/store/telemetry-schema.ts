import { SPAN } from '../../../common/src/semconv.js';
import type { Migration } from './migrations.js';

const CLICK_SPAN = SPAN.CLICK;

/** The telemetry store's schema, step by step (append only: a shipped step is never edited). */
export const TELEMETRY_MIGRATIONS: readonly Migration[] = [
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
  {
    // Row counts kept by the transactions that add and delete rows (row-counts.ts): retention
    // reads how far a table is beyond its limit from one row instead of a count(*) that walked
    // the table on the main thread. Counted once here, for a store made before.
    version: 9,
    sql: `
      CREATE TABLE row_counts (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO row_counts VALUES ('spans', (SELECT count(*) FROM spans)), ('metric_points', (SELECT count(*) FROM metric_points));
    `,
  },
  {
    // The visit's session.id a request was served in, when the server recorded one on its
    // request span: a click from another session (or none) is then a mismatch.
    version: 10,
    sql: `
      ALTER TABLE served_requests ADD COLUMN session_id TEXT;
    `,
  },
];
