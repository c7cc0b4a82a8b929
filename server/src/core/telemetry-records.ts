/**
 * The normalized shapes in which telemetry is stored, whichever way it arrived (OTLP from a
 * browser, or the server's own SDK in-process).
 */

/** An attribute value after decoding: OTLP AnyValue as plain JSON. */
export type AttributeValue =
  | string
  | number
  | boolean
  | null
  | AttributeValue[]
  | { [key: string]: AttributeValue };

export type Attributes = Record<string, AttributeValue>;

/** A link from one span to another, e.g. a click to the request that served the list. */
export interface SpanLinkRecord {
  readonly traceId: string;
  readonly spanId: string;
  readonly attributes: Attributes;
}

export interface SpanEventRecord {
  readonly name: string;
  readonly timeUnixNano: string;
  readonly attributes: Attributes;
}

/** One span as stored. Times are decimal strings of nanoseconds so no precision is lost. */
export interface SpanRecord {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | null;
  readonly name: string;
  /** OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly service: string;
  readonly scope: string;
  readonly startTimeUnixNano: string;
  readonly endTimeUnixNano: string;
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  readonly statusMessage: string;
  readonly attributes: Attributes;
  readonly events: readonly SpanEventRecord[];
  readonly links: readonly SpanLinkRecord[];
  /** True for the server's own telemetry; false for anything a browser posted. */
  readonly trusted: boolean;
}

export type MetricKind = 'sum' | 'gauge' | 'histogram';

/** OTLP AggregationTemporality: 0 unspecified, 1 delta, 2 cumulative. */
export type Temporality = 0 | 1 | 2;

/** One metric data point as stored. */
export interface MetricPointRecord {
  readonly service: string;
  /**
   * Identity of the resource that reported the point (canonical JSON of its attributes):
   * with scope, name and point attributes it names the stream whose cumulative points
   * supersede each other.
   */
  readonly resourceKey: string;
  readonly scope: string;
  readonly name: string;
  readonly unit: string;
  readonly kind: MetricKind;
  readonly temporality: Temporality;
  readonly monotonic: boolean;
  readonly attributes: Attributes;
  readonly startTimeUnixNano: string;
  readonly timeUnixNano: string;
  /** Sum and gauge value; null for histograms. */
  readonly value: number | null;
  readonly count: number | null;
  readonly sum: number | null;
  readonly bucketCounts: readonly number[] | null;
  readonly explicitBounds: readonly number[] | null;
  readonly trusted: boolean;
}

/** Nanoseconds since the epoch (as a decimal string) to milliseconds, without BigInt on the hot path. */
export function nanosToMillis(nanos: string): number {
  if (nanos.length <= 6) return Number(nanos) / 1e6;
  return Number(nanos.slice(0, -6)) + Number(nanos.slice(-6)) / 1e6;
}

/** JSON with object keys sorted at every level, so equal attribute sets give equal strings. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
