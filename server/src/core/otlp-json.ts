/**
 * Decodes OTLP/JSON export requests (as the OpenTelemetry exporters send them) into stored
 * records. Invalid items are rejected one by one, with a reason, so that the valid ones can
 * still be accepted as a partial success.
 */
import { ATTR } from '../../../common/src/semconv.js';
import { canonicalJson } from './telemetry-records.js';
import type {
  AttributeValue,
  Attributes,
  MetricKind,
  MetricPointRecord,
  SpanEventRecord,
  SpanLinkRecord,
  SpanRecord,
  Temporality,
} from './telemetry-records.js';

const SESSION_ID = ATTR.SESSION_ID;
const REQUEST_ID = ATTR.REQUEST_ID;

/** Bounds applied while decoding untrusted input. */
export interface DecodeLimits {
  /** Most attributes kept per span, event, link or point; extra ones are dropped (as span limits do). */
  readonly maxAttributes: number;
  /** Longest string attribute value kept; longer ones are truncated. */
  readonly maxValueLength: number;
  /** Deepest array/kvlist nesting kept in an attribute value. */
  readonly maxDepth: number;
  /** Most events or links kept per span. */
  readonly maxEventsOrLinks: number;
  /**
   * Most characters of attribute keys, string values and event names kept per untrusted span
   * or point; what does not fit is dropped. A browser's span holds a few hundred; without it the
   * limits above let one span bring a megabyte to the store.
   */
  readonly maxUntrustedChars?: number;
}

/** The limits of one untrusted span or point, with what is left of its characters. */
interface BudgetedLimits extends DecodeLimits {
  readonly budget?: { chars: number };
}

/** `limits` with a budget of characters for one span or point, when it is untrusted. */
function itemLimits(limits: DecodeLimits, trusted: boolean): BudgetedLimits {
  return trusted || limits.maxUntrustedChars === undefined ? limits : { ...limits, budget: { chars: limits.maxUntrustedChars } };
}

/** Takes `chars` from the budget of `limits`; false (and nothing taken) when they do not fit. */
function spend(limits: BudgetedLimits, chars: number): boolean {
  if (limits.budget === undefined) return true;
  if (chars > limits.budget.chars) return false;
  limits.budget.chars -= chars;
  return true;
}

/** The characters of an attribute value: its strings, nested ones included; 8 for any other scalar. */
function valueChars(value: AttributeValue): number {
  if (typeof value === 'string') return value.length;
  if (Array.isArray(value)) return value.reduce<number>((sum, item) => sum + valueChars(item as AttributeValue), 0);
  if (value !== null && typeof value === 'object') return Object.entries(value).reduce((sum, [key, item]) => sum + key.length + valueChars(item as AttributeValue), 0);
  return 8;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = {
  maxAttributes: 128,
  maxValueLength: 4096,
  maxDepth: 8,
  maxEventsOrLinks: 128,
  maxUntrustedChars: 16_384,
};

export interface DecodeResult<T> {
  readonly items: T[];
  readonly rejected: number;
  /** The first few reasons, for the partial-success `errorMessage`. */
  readonly errors: string[];
}

/** Thrown when the body is not an OTLP export request at all (answered with 400). */
export class MalformedOtlpError extends Error {}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);
const MAX_REPORTED_ERRORS = 5;
/**
 * How far ahead of the server's clock a span may end or a point be taken. A device's clock can
 * be off by minutes, rarely hours; data dated days ahead would outlive every retention by age.
 */
const MAX_CLOCK_AHEAD_MS = 86_400_000;
/** Most buckets of a histogram point (the SDK's default has 16; an exponential one at most 160). */
const MAX_HISTOGRAM_BUCKETS = 1_000;

/** What decoding needs besides the body. */
export interface DecodeOptions {
  /** Whether the items are the server's own telemetry (else client-reported). */
  readonly trusted: boolean;
  readonly limits?: DecodeLimits;
  /** The server's clock (ms since the epoch), for the bounds on timestamps; now by default. */
  readonly nowMs?: number;
  /**
   * The retention age (ms; 0 or absent: data is kept forever). Spans that start, and points
   * taken, longer ago than this would be deleted by the next cleanup, so they are refused
   * up front: a partial success that names the reason, never an acknowledgement of data
   * that vanishes within a minute.
   */
  readonly maxAgeMs?: number;
}

/**
 * Largest magnitude of a value, sum or histogram count from a client. Totals add such values:
 * two points of 1.7e308 made a variant's total Infinity (null in the results' JSON) for good.
 * 2^53 keeps every integer exact, and millions of such points still add up to a finite number.
 */
export const MAX_POINT_MAGNITUDE = Number.MAX_SAFE_INTEGER;

/** The window of timestamps accepted, as decimal nanoseconds. */
interface Accepted {
  /** The latest timestamp accepted. */
  readonly latest: string;
  /** The earliest (`'0'` when there is no retention age). */
  readonly earliest: string;
  /** The reason given for a timestamp before `earliest`. */
  readonly tooOld: string;
}

function acceptedWindow(options: DecodeOptions): Accepted {
  const now = options.nowMs ?? Date.now();
  const maxAge = options.maxAgeMs ?? 0;
  return {
    latest: `${Math.floor(now + MAX_CLOCK_AHEAD_MS)}000000`,
    earliest: maxAge > 0 && now > maxAge ? `${Math.floor(now - maxAge)}000000` : '0',
    tooOld: `older than the retention age of ${maxAge / 3_600_000} hours, so it would be deleted at once (RETENTION_MAX_AGE_HOURS)`,
  };
}

/** Whether decimal nanoseconds `a` (as `nanos` returns them: no leading zeros) are after `b`. */
function isAfter(a: string, b: string): boolean {
  return a.length !== b.length ? a.length > b.length : a > b;
}

type Json = unknown;

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function arrayField(parent: Record<string, Json>, field: string): Json[] {
  const value = parent[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new MalformedOtlpError(`${field} must be an array`);
  return value;
}

function stringField(parent: Record<string, Json>, field: string): string {
  const value = parent[field];
  return typeof value === 'string' ? value : '';
}

/** Ids arrive as hex strings (OTLP/JSON) or as bytes (decoded protobuf). */
function normalizeId(value: Json): string {
  if (typeof value === 'string') return value.toLowerCase();
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  return '';
}

const MAX_UINT64 = (1n << 64n) - 1n;

/** A 64-bit unsigned nanosecond timestamp, sent as a string or a number. */
function nanos(value: Json): string | undefined {
  let parsed: bigint | undefined;
  if (typeof value === 'string' && /^\d{1,20}$/.test(value)) parsed = BigInt(value);
  else if (typeof value === 'number' && Number.isFinite(value) && value >= 0) parsed = BigInt(Math.round(value));
  return parsed !== undefined && parsed <= MAX_UINT64 ? parsed.toString() : undefined;
}

/** A 64-bit integer sent as a string or a number (OTLP/JSON allows both). */
function integerValue(value: Json): number | string | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  if (typeof value !== 'string' || !/^-?\d{1,20}$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
}

function numberValue(value: Json): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return undefined;
}

function truncate(value: string, limits: DecodeLimits): string {
  if (value.length <= limits.maxValueLength) return value;
  let end = limits.maxValueLength;
  // Never keep half of a surrogate pair: cut before a high surrogate left without its partner.
  const last = value.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return value.slice(0, end);
}

function anyValue(value: Json, limits: DecodeLimits, depth: number): AttributeValue {
  if (!isObject(value)) return null;
  if (typeof value.stringValue === 'string') return truncate(value.stringValue, limits);
  if (typeof value.boolValue === 'boolean') return value.boolValue;
  if (value.intValue !== undefined) return integerValue(value.intValue) ?? null;
  if (value.doubleValue !== undefined) return numberValue(value.doubleValue) ?? null;
  if (typeof value.bytesValue === 'string') return truncate(value.bytesValue, limits);
  if (value.bytesValue instanceof Uint8Array) return truncate(Buffer.from(value.bytesValue).toString('base64'), limits);
  if (depth >= limits.maxDepth) return null;
  if (isObject(value.arrayValue)) {
    const values = Array.isArray(value.arrayValue.values) ? value.arrayValue.values : [];
    return values.slice(0, limits.maxAttributes).map((v) => anyValue(v, limits, depth + 1));
  }
  if (isObject(value.kvlistValue)) {
    return keyValues(value.kvlistValue.values, limits, depth + 1);
  }
  return null;
}

function keyValues(list: Json, limits: BudgetedLimits, depth = 0): Attributes {
  const attributes: Attributes = {};
  if (!Array.isArray(list)) return attributes;
  let count = 0;
  for (const kv of list) {
    if (count >= limits.maxAttributes) break;
    if (!isObject(kv) || typeof kv.key !== 'string' || kv.key === '') continue;
    const key = truncate(kv.key, limits);
    const value = anyValue(kv.value, limits, depth);
    if (depth === 0 && !spend(limits, key.length + valueChars(value))) break;
    // Assigned, a key named __proto__ would replace the object's prototype, and the keys inside
    // its value would then read as attributes of the span (a forged request id, say).
    if (key === '__proto__') Object.defineProperty(attributes, key, { value, enumerable: true, writable: true, configurable: true });
    else attributes[key] = value;
    count += 1;
  }
  return attributes;
}

function resourceAttributes(resource: Json, limits: DecodeLimits): Attributes {
  return isObject(resource) ? keyValues(resource.attributes, limits) : {};
}

/**
 * Most characters of a resource's attributes that enter the identity of its metric streams
 * (`MetricPointRecord.resourceKey`). Real SDK resources (service, SDK, host, process) take a
 * few hundred to a couple of thousand; the decode limits alone let one resource bring 128
 * attributes of 4,096 characters (half a megabyte) into every stream key it makes.
 */
export const MAX_STREAM_RESOURCE_CHARS = 16_384;
/** The attribute a bounded resource key carries instead of the attributes it dropped: how many there were. */
export const RESOURCE_ATTRIBUTES_DROPPED = 'variant_lens.resource_attributes_dropped';
/** Room kept under the bound for that attribute. */
const DROPPED_MARKER_CHARS = 64;

/**
 * The resource's part of a metric stream's identity: its canonical JSON, or, beyond
 * `MAX_STREAM_RESOURCE_CHARS`, the attributes that fit (`service.name` first, then in key
 * order) and the number dropped, as span limits drop attributes. Two resources that differ
 * only in attributes beyond the bound make the same streams.
 */
export function streamResourceKey(resource: Attributes): string {
  const whole = canonicalJson(resource);
  if (whole.length <= MAX_STREAM_RESOURCE_CHARS) return whole;
  const keys = Object.keys(resource).sort((a, b) => (a === 'service.name' ? -1 : b === 'service.name' ? 1 : a < b ? -1 : a > b ? 1 : 0));
  // Entries, not an object: a key named __proto__ must stay an entry like any other.
  const kept: [string, string][] = [];
  let size = 2;
  for (const key of keys) {
    if (key === RESOURCE_ATTRIBUTES_DROPPED) continue;
    const entry = `${JSON.stringify(key)}:${canonicalJson(resource[key])}`;
    if (size + entry.length + 1 > MAX_STREAM_RESOURCE_CHARS - DROPPED_MARKER_CHARS) continue;
    kept.push([key, entry]);
    size += entry.length + 1;
  }
  kept.push([RESOURCE_ATTRIBUTES_DROPPED, `${JSON.stringify(RESOURCE_ATTRIBUTES_DROPPED)}:${keys.length - kept.length}`]);
  kept.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${kept.map(([, entry]) => entry).join(',')}}`;
}

function serviceName(attributes: Attributes): string {
  const name = attributes['service.name'];
  return typeof name === 'string' && name !== '' ? name : 'unknown_service';
}

interface Collector<T> {
  readonly result: { items: T[]; rejected: number; errors: string[] };
  reject(reason: string): void;
}

function collector<T>(): Collector<T> {
  const result = { items: [] as T[], rejected: 0, errors: [] as string[] };
  return {
    result,
    reject(reason: string) {
      result.rejected += 1;
      if (result.errors.length < MAX_REPORTED_ERRORS) result.errors.push(reason);
    },
  };
}

function requireRoot(body: Json, field: string): Json[] {
  if (!isObject(body)) throw new MalformedOtlpError('body must be a JSON object');
  return arrayField(body, field);
}

/** Decodes an `ExportTraceServiceRequest` in OTLP/JSON. */
export function decodeTraceRequest(body: Json, options: DecodeOptions): DecodeResult<SpanRecord> {
  const limits = options.limits ?? DEFAULT_DECODE_LIMITS;
  const accepted = acceptedWindow(options);
  const out = collector<SpanRecord>();
  for (const resourceSpans of requireRoot(body, 'resourceSpans')) {
    if (!isObject(resourceSpans)) throw new MalformedOtlpError('resourceSpans[] must be objects');
    const resource = resourceAttributes(resourceSpans.resource, limits);
    const service = serviceName(resource);
    // The visit's session (the browser SDK puts it on its resource) goes onto each span naming a
    // served request that has none of its own: the resource is not stored, and a click is judged
    // by its session. Only those spans: it costs a stored attribute on each.
    const session = typeof resource[SESSION_ID] === 'string' && resource[SESSION_ID] !== '' ? resource[SESSION_ID] : undefined;
    for (const scopeSpans of arrayField(resourceSpans, 'scopeSpans')) {
      if (!isObject(scopeSpans)) throw new MalformedOtlpError('scopeSpans[] must be objects');
      const scope = isObject(scopeSpans.scope) ? stringField(scopeSpans.scope, 'name') : '';
      for (const span of arrayField(scopeSpans, 'spans')) {
        const decoded = decodeSpan(span, service, scope, options.trusted, itemLimits(limits, options.trusted), accepted, session);
        if (typeof decoded === 'string') out.reject(decoded);
        else out.result.items.push(decoded);
      }
    }
  }
  return out.result;
}

function decodeSpan(
  span: Json,
  service: string,
  scope: string,
  trusted: boolean,
  limits: BudgetedLimits,
  accepted: Accepted,
  session: string | undefined,
): SpanRecord | string {
  if (!isObject(span)) return 'span is not an object';
  const traceId = normalizeId(span.traceId);
  const spanId = normalizeId(span.spanId);
  if (!TRACE_ID.test(traceId) || traceId === ZERO_TRACE_ID) return `span traceId is invalid, expected 32 hex digits (actual: ${String(span.traceId).slice(0, 40)})`;
  if (!SPAN_ID.test(spanId) || spanId === ZERO_SPAN_ID) return `span spanId is invalid, expected 16 hex digits (actual: ${String(span.spanId).slice(0, 40)})`;
  const parent = normalizeId(span.parentSpanId);
  if (parent !== '' && !SPAN_ID.test(parent)) return `span ${spanId} parentSpanId is invalid, expected 16 hex digits`;
  const name = stringField(span, 'name');
  if (name === '') return `span ${spanId} has no name`;
  const start = nanos(span.startTimeUnixNano);
  const end = nanos(span.endTimeUnixNano);
  if (start === undefined || end === undefined) return `span ${spanId} timestamps are invalid, expected unsigned nanoseconds`;
  if (BigInt(end) < BigInt(start)) return `span ${spanId} ends before it starts`;
  if (isAfter(end, accepted.latest)) return `span ${spanId} endTimeUnixNano is more than a day ahead of the server's clock`;
  if (isAfter(accepted.earliest, start)) return `span ${spanId} startTimeUnixNano is ${accepted.tooOld}`;
  const kind = numberValue(span.kind) ?? 0;
  const status = isObject(span.status) ? span.status : {};
  const attributes = keyValues(span.attributes, limits);
  if (session !== undefined && Object.hasOwn(attributes, REQUEST_ID) && !Object.hasOwn(attributes, SESSION_ID)) attributes[SESSION_ID] = session;
  return {
    traceId,
    spanId,
    parentSpanId: parent === '' || parent === ZERO_SPAN_ID ? null : parent,
    name: truncate(name, limits),
    kind: Number.isInteger(kind) && kind >= 0 && kind <= 5 ? kind : 0,
    service: truncate(service, limits),
    scope: truncate(scope, limits),
    startTimeUnixNano: start,
    endTimeUnixNano: end,
    statusCode: [0, 1, 2].includes(numberValue(status.code) ?? 0) ? (numberValue(status.code) ?? 0) : 0,
    statusMessage: truncate(stringField(status, 'message'), limits),
    attributes,
    events: decodeEvents(span.events, limits),
    links: decodeLinks(span.links, limits),
    trusted,
  };
}

function decodeEvents(list: Json, limits: BudgetedLimits): SpanEventRecord[] {
  if (!Array.isArray(list)) return [];
  const events: SpanEventRecord[] = [];
  for (const event of list.slice(0, limits.maxEventsOrLinks)) {
    if (!isObject(event)) continue;
    const time = nanos(event.timeUnixNano);
    if (time === undefined) continue;
    const name = truncate(stringField(event, 'name'), limits);
    if (!spend(limits, name.length)) break;
    events.push({ name, timeUnixNano: time, attributes: keyValues(event.attributes, limits) });
  }
  return events;
}

function decodeLinks(list: Json, limits: BudgetedLimits): SpanLinkRecord[] {
  if (!Array.isArray(list)) return [];
  const links: SpanLinkRecord[] = [];
  for (const link of list.slice(0, limits.maxEventsOrLinks)) {
    if (!isObject(link)) continue;
    const traceId = normalizeId(link.traceId);
    const spanId = normalizeId(link.spanId);
    if (!TRACE_ID.test(traceId) || !SPAN_ID.test(spanId) || traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) continue;
    links.push({ traceId, spanId, attributes: keyValues(link.attributes, limits) });
  }
  return links;
}

/** Decodes an `ExportMetricsServiceRequest` in OTLP/JSON. */
export function decodeMetricsRequest(body: Json, options: DecodeOptions): DecodeResult<MetricPointRecord> {
  const limits = options.limits ?? DEFAULT_DECODE_LIMITS;
  const accepted = acceptedWindow(options);
  const out = collector<MetricPointRecord>();
  for (const resourceMetrics of requireRoot(body, 'resourceMetrics')) {
    if (!isObject(resourceMetrics)) throw new MalformedOtlpError('resourceMetrics[] must be objects');
    const resource = resourceAttributes(resourceMetrics.resource, limits);
    const service = serviceName(resource);
    const resourceKey = streamResourceKey(resource);
    for (const scopeMetrics of arrayField(resourceMetrics, 'scopeMetrics')) {
      if (!isObject(scopeMetrics)) throw new MalformedOtlpError('scopeMetrics[] must be objects');
      const scope = isObject(scopeMetrics.scope) ? stringField(scopeMetrics.scope, 'name') : '';
      for (const metric of arrayField(scopeMetrics, 'metrics')) {
        decodeMetric(metric, { service, resourceKey, scope }, options.trusted, limits, accepted, out);
      }
    }
  }
  return out.result;
}

function decodeMetric(
  metric: Json,
  origin: Pick<MetricPointRecord, 'service' | 'resourceKey' | 'scope'>,
  trusted: boolean,
  limits: DecodeLimits,
  accepted: Accepted,
  out: Collector<MetricPointRecord>,
): void {
  if (!isObject(metric) || stringField(metric, 'name') === '') {
    rejectWhole(metric, 'metric has no name', out);
    return;
  }
  const name = truncate(stringField(metric, 'name'), limits);
  const unit = truncate(stringField(metric, 'unit'), limits);
  let kind: MetricKind;
  let data: Record<string, Json>;
  if (isObject(metric.sum)) [kind, data] = ['sum', metric.sum];
  else if (isObject(metric.gauge)) [kind, data] = ['gauge', metric.gauge];
  else if (isObject(metric.histogram)) [kind, data] = ['histogram', metric.histogram];
  else {
    const unsupported = ['exponentialHistogram', 'summary'].some((k) => isObject(metric[k]));
    rejectWhole(metric, `metric ${name}: ${unsupported ? 'unsupported type' : 'no data'}`, out);
    return;
  }
  const rawTemporality = numberValue(data.aggregationTemporality) ?? 0;
  const temporality: Temporality = rawTemporality === 1 || rawTemporality === 2 ? rawTemporality : 0;
  const monotonic = data.isMonotonic === true;
  for (const point of Array.isArray(data.dataPoints) ? data.dataPoints : []) {
    const decoded = decodePoint(point, kind, itemLimits(limits, trusted), accepted);
    if (typeof decoded === 'string') {
      out.reject(`metric ${name}: ${decoded}`);
      continue;
    }
    out.result.items.push({ ...origin, name, unit, kind, temporality: kind === 'gauge' ? 0 : temporality, monotonic, trusted, ...decoded });
  }
}

const METRIC_DATA_FIELDS = ['sum', 'gauge', 'histogram', 'exponentialHistogram', 'summary'];

/** Rejects every point of a metric refused as a whole (at least one): `rejectedDataPoints` counts points. */
function rejectWhole(metric: Json, reason: string, out: Collector<MetricPointRecord>): void {
  const data = isObject(metric) ? METRIC_DATA_FIELDS.map((field) => metric[field]).find(isObject) : undefined;
  const points = data !== undefined && Array.isArray(data.dataPoints) ? data.dataPoints.length : 0;
  for (let i = 0; i < Math.max(1, points); i += 1) out.reject(reason);
}

type PointFields = Pick<
  MetricPointRecord,
  'attributes' | 'startTimeUnixNano' | 'timeUnixNano' | 'value' | 'count' | 'sum' | 'bucketCounts' | 'explicitBounds'
>;

/** A number within ±`MAX_POINT_MAGNITUDE`. */
function boundedNumber(value: Json): number | undefined {
  const n = numberValue(value);
  return n !== undefined && Math.abs(n) <= MAX_POINT_MAGNITUDE ? n : undefined;
}

function decodePoint(point: Json, kind: MetricKind, limits: DecodeLimits, accepted: Accepted): PointFields | string {
  if (!isObject(point)) return 'data point is not an object';
  const time = nanos(point.timeUnixNano);
  if (time === undefined) return 'data point timeUnixNano is invalid';
  if (isAfter(time, accepted.latest)) return "data point timeUnixNano is more than a day ahead of the server's clock";
  if (isAfter(accepted.earliest, time)) return `data point timeUnixNano is ${accepted.tooOld}`;
  const start = nanos(point.startTimeUnixNano) ?? '0';
  const attributes = keyValues(point.attributes, limits);
  if (kind !== 'histogram') {
    const unbounded = numberValue(point.asDouble) ?? numberValue(point.asInt);
    if (unbounded === undefined) return 'data point has no asDouble or asInt';
    const value = boundedNumber(unbounded);
    if (value === undefined) return `data point value is out of range, expected a number within ±${MAX_POINT_MAGNITUDE}`;
    return { attributes, startTimeUnixNano: start, timeUnixNano: time, value, count: null, sum: null, bucketCounts: null, explicitBounds: null };
  }
  const count = integerValue(point.count);
  if (typeof count !== 'number' || count < 0 || count > MAX_POINT_MAGNITUDE) return 'histogram point count is invalid, expected a non-negative integer';
  if (point.sum !== undefined && point.sum !== null && boundedNumber(point.sum) === undefined) return `histogram point sum is out of range, expected a number within ±${MAX_POINT_MAGNITUDE}`;
  const rawCounts = Array.isArray(point.bucketCounts) ? point.bucketCounts : [];
  if (rawCounts.length > MAX_HISTOGRAM_BUCKETS) return `histogram has more than ${MAX_HISTOGRAM_BUCKETS} buckets`;
  const bucketCounts = rawCounts.map(integerValue);
  const explicitBounds = (Array.isArray(point.explicitBounds) ? point.explicitBounds : []).map(numberValue);
  if (bucketCounts.some((c) => typeof c !== 'number' || c < 0 || c > MAX_POINT_MAGNITUDE)) return 'histogram bucketCounts must be non-negative integers';
  if (explicitBounds.some((b) => b === undefined)) return 'histogram explicitBounds must be numbers';
  const bounds = explicitBounds as number[];
  const buckets = bucketCounts as number[];
  if (bounds.some((b, i) => i > 0 && b <= bounds[i - 1]!)) return 'histogram explicitBounds must be strictly increasing';
  if ((buckets.length > 0 || bounds.length > 0) && buckets.length !== bounds.length + 1) {
    return 'histogram bucketCounts must have one more entry than explicitBounds';
  }
  if (buckets.length > 0 && buckets.reduce((a, b) => a + b, 0) !== count) return 'histogram count must equal the sum of bucketCounts';
  return {
    attributes,
    startTimeUnixNano: start,
    timeUnixNano: time,
    value: null,
    count,
    sum: numberValue(point.sum) ?? null,
    bucketCounts: buckets,
    explicitBounds: bounds,
  };
}
