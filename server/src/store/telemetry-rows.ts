/**
 * Row building: a span's `spans` row and a metric point's stream identity, made outside the
 * write lock (the ingest workers do it in parallel), and stored rows read back as the wire types.
 */
import { createHash, type Hash } from 'node:crypto';
import { ATTR } from '../../../common/src/semconv.js';
import type { StoredMetricPoint, StoredSpan } from '../../../common/src/wire-types.js';
import type { MetricPointRecord, SpanRecord } from '../core/telemetry-records.js';
import { canonicalJson, nanosToMillis } from '../core/telemetry-records.js';

/**
 * One `spans` row's values in column order. A string parameter costs the driver two copies
 * (about half a microsecond here, as much as a third of a small row's insert), so the values
 * nearly every span has — no status message, no events, no links — are sent as NULL and
 * written by SQL.
 */
export const SPAN_VALUES = ['?', '?', '?', '?', '?', '?', '?', '?', '?', '?', '?', '?', "coalesce(?, '')", '?', '?', '?', '?', "coalesce(?, '[]')", "coalesce(?, '[]')"];
/** Browser spans (or unmatched events) per multi-row INSERT; 50 × 19 parameters stays far below SQLite's limit. */
export const MULTI_ROW = 50;

/** `VALUES (…), …`: `rows` groups of the row's value expressions, for one multi-row INSERT. */
export function valuesList(row: readonly string[], rows: number): string {
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
export interface NewRow {
  readonly row: number;
  readonly traceId: string;
  readonly requestId: string | null;
  /** The span it was made from; unknown when the filters are filled for rows already stored. */
  readonly span: SpanRecord | undefined;
}

/** The `NewRow` of a span stored as `row` (its request id as `spanRow` stores it). */
export function newRow(row: number, span: SpanRecord): NewRow {
  const requestId = span.attributes[ATTR.REQUEST_ID];
  return { row, traceId: span.traceId, requestId: typeof requestId === 'string' ? requestId : null, span };
}

/** A `spans` row as SQLite returns it. */
export interface SpanRow {
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

/** A `metric_points` row as SQLite returns it. */
export interface MetricRow {
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

/** A stored span as the wire type. */
export function toStoredSpan(row: SpanRow): StoredSpan {
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

/** A stored metric point as the wire type. */
export function toStoredPoint(row: MetricRow): StoredMetricPoint {
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
