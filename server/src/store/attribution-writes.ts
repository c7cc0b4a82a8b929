/**
 * Served requests and the browser events that name them, written by the attribution rules
 * (`core/request-attribution.ts`): each trusted request span becomes its served request (and,
 * for the experiment population, a row per experiment key); each browser event is counted
 * against the request it names, or waits as unmatched until that request is stored.
 */
import type Database from 'better-sqlite3';
import { ATTR, SPAN } from '../../../common/src/semconv.js';
import type { SpanRecord } from '../core/telemetry-records.js';
import { nanosToMillis } from '../core/telemetry-records.js';
import { clickSessionId, experimentClaims, judgeClick, servedRequestOf, type ClickHistory, type ServedRequest } from '../core/request-attribution.js';
import { MULTI_ROW, valuesList } from './telemetry-rows.js';

const CLICK_SPAN = SPAN.CLICK;
/** Prefix of a click key that records a mismatched claim: apart from the genuine click's key, so a forged claim never takes its place. */
const MISMATCH_KEY_PREFIX = '\u0001';
/** How far before a request's start an event naming it is still looked for (ms); see `countEarlierEvents`. */
const EARLY_EVENT_MARGIN_MS = 1_000;
/** One `unmatched_events` row's values; a view (not a click) claims nothing, sent as NULL. */
const UNMATCHED_VALUES = ['?', '?', "coalesce(?, '{}')", '?', '?', '?'];

/** The attribution writes of one connection's write transaction. */
export class AttributionWrites {
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
  private readonly insertUnmatched: Database.Statement;
  private readonly insertUnmatchedRows: Database.Statement;
  /** Requests stored in this transaction that browser events may have come before: id → when it began (ms). */
  private readonly servedInTransaction = new Map<string, number>();
  /** When this transaction began (ms since the epoch, the server's clock). */
  private transactionStartMs = 0;
  /** Served requests looked up in this transaction (null: not served); a commit names few requests many times. */
  private readonly servedOfRequest = new Map<string, ServedRequest | null>();
  /** Parameters of the unmatched events of the transaction, written together once its spans are (see `flushUnmatched`). */
  private pendingUnmatched: unknown[] = [];

  constructor(
    db: Database.Database,
    private readonly isExperimentKey: (key: string) => boolean,
  ) {
    this.insertRequest = db.prepare(`INSERT OR IGNORE INTO experiment_requests
      (key, variant, user_id, span_row, request_id, cohort, start_ms, duration_ms, error, impressions, cache_hits, cache_misses) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.insertServed = db.prepare(`INSERT OR IGNORE INTO served_requests
      (request_id, start_ms, user_id, cohort, population, served_count, content_ids, variants, session_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.servedById = db.prepare('SELECT start_ms, population, served_count, content_ids, variants, session_id FROM served_requests WHERE request_id = ?').raw();
    this.countEvent = db.prepare('UPDATE experiment_requests SET browser_events = browser_events + 1 WHERE request_id = ?');
    this.countServedEvent = db.prepare('UPDATE served_requests SET browser_events = browser_events + 1 WHERE request_id = ?');
    this.countClick = db.prepare('UPDATE experiment_requests SET clicks = clicks + 1 WHERE request_id = ?');
    this.countMismatch = db.prepare('UPDATE experiment_requests SET mismatched_clicks = mismatched_clicks + 1 WHERE request_id = ? AND key = ?');
    this.countInvalid = db.prepare('UPDATE experiment_requests SET invalid_clicks = invalid_clicks + 1 WHERE request_id = ?');
    this.countServedClick = db.prepare('UPDATE served_requests SET clicks = clicks + 1 WHERE request_id = ?');
    this.countServedInvalid = db.prepare('UPDATE served_requests SET invalid_clicks = invalid_clicks + 1 WHERE request_id = ?');
    this.insertClickKey = db.prepare('INSERT OR IGNORE INTO click_keys VALUES (?, ?)');
    this.hasClickKey = db.prepare('SELECT 1 FROM click_keys WHERE request_id = ? AND content_id = ?').pluck();
    this.countedClicksOf = db.prepare(`SELECT count(*) FROM click_keys WHERE request_id = ? AND substr(content_id, 1, 1) <> '${MISMATCH_KEY_PREFIX}'`).pluck();
    this.unmatchedSince = db.prepare('SELECT id, request_id, span_row, start_ms FROM unmatched_events WHERE received_ms >= ? ORDER BY id').raw();
    this.spanEvent = db.prepare('SELECT name, attributes FROM spans WHERE id = ?');
    this.forgetUnmatched = db.prepare('DELETE FROM unmatched_events WHERE id = ?');
    const unmatchedInsert = 'INSERT INTO unmatched_events (request_id, start_ms, claims, span_row, click, received_ms)';
    this.insertUnmatched = db.prepare(`${unmatchedInsert} ${valuesList(UNMATCHED_VALUES, 1)}`);
    this.insertUnmatchedRows = db.prepare(`${unmatchedInsert} ${valuesList(UNMATCHED_VALUES, MULTI_ROW)}`);
  }

  /** Starts a write transaction begun at `nowMs` (the server's clock). */
  begin(nowMs: number): void {
    this.servedOfRequest.clear();
    this.servedInTransaction.clear();
    this.pendingUnmatched = [];
    this.transactionStartMs = nowMs;
  }

  /** Writes the transaction's unmatched events, MULTI_ROW to a statement (one native call instead of fifty). */
  flushUnmatched(): void {
    const params = this.pendingUnmatched;
    const columns = UNMATCHED_VALUES.length;
    const chunk = columns * MULTI_ROW;
    let i = 0;
    for (; i + chunk <= params.length; i += chunk) this.insertUnmatchedRows.run(params.slice(i, i + chunk));
    for (; i < params.length; i += columns) this.insertUnmatched.run(params.slice(i, i + columns));
    this.pendingUnmatched = [];
  }

  /**
   * The served request a trusted `recommendation.request` span records (every population),
   * and for the experiment population its row per experiment key.
   */
  writeServedRequest(span: SpanRecord, row: number | bigint): void {
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
      served.sessionId,
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

  /**
   * Browser events that arrived before their request was stored count now. They were
   * received after the request began, so one look at what came since the earliest request of
   * this transaction finds them all, however many requests it stores. The margin covers the
   * clock moving back a little between the server's span and the ingest worker's commit.
   */
  countEarlierEvents(): void {
    if (this.servedInTransaction.size === 0) return;
    const since = Math.min(...this.servedInTransaction.values()) - EARLY_EVENT_MARGIN_MS;
    const earlier = (this.unmatchedSince.all(since) as [number, string, number, number][]).filter(([, requestId]) => this.servedInTransaction.has(requestId));
    for (const [id, requestId, row, startMs] of earlier) {
      this.forgetUnmatched.run(id);
      const event = this.spanEvent.get(row) as { name: string; attributes: string } | undefined;
      if (event !== undefined) this.countBrowserEvent(requestId, event.name, JSON.parse(event.attributes) as SpanRecord['attributes'], startMs, null);
    }
  }

  /** A browser span (stored as `row`) that names a served request: counted against it (see `countBrowserEvent`). */
  writeBrowserEvent(span: SpanRecord, row: number): void {
    const requestId = span.attributes[ATTR.REQUEST_ID];
    if (typeof requestId === 'string') this.countBrowserEvent(requestId, span.name, span.attributes, nanosToMillis(span.startTimeUnixNano), row);
  }

  /** The served request a browser event names; undefined for a request not (yet) stored. */
  private servedRequest(requestId: string): ServedRequest | undefined {
    let served = this.servedOfRequest.get(requestId);
    if (served === undefined) {
      const found = this.servedById.get(requestId) as [number, ServedRequest['population'], number, string | null, string, string | null] | undefined;
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
              sessionId: found[5],
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
    const verdict = judgeClick(served, { startMs, contentId: typeof contentId === 'string' ? contentId : undefined, claims: attributes, sessionId: clickSessionId(attributes) }, this.clickHistory(requestId));
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
}
