/**
 * OTLP/JSON export requests as rows of the ClickHouse exporter's tables, mapped as the exporter
 * maps pdata (`exporter_traces.go`, `internal/metrics/*_metrics.go`): attribute values become
 * strings the way `pcommon.Value.AsString` writes them, kinds and status codes their pdata names,
 * ids lower-case hex, times nanoseconds. Rows are objects for `JSONEachRow`; 64-bit integers and
 * nanosecond times are decimal strings so that nothing loses precision on the way.
 */
import { anyValue, SOURCE_ATTRIBUTE, SOURCE_BROWSER, SOURCE_SERVICE } from '../core/otlp-encode.js';
import type { Attributes, SpanRecord } from '../core/telemetry-records.js';

type Json = unknown;
type Obj = Record<string, Json>;

export type AttributeMap = Record<string, string>;

function isObject(value: Json): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function list(value: Json): Json[] {
  return Array.isArray(value) ? value : [];
}

function str(value: Json): string {
  return typeof value === 'string' ? value : '';
}

/** A uint64 or int64 sent as a string or number, as a decimal string ('0' when absent). */
function int64(value: Json): string {
  if (typeof value === 'number' && Number.isFinite(value)) return BigInt(Math.trunc(value)).toString();
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value).toString();
  return '0';
}

function float(value: Json): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '') return Number(value);
  return 0;
}

/**
 * A float64 as Go's `strconv.FormatFloat(f, 'f', -1, 64)` writes it (what `AsString` uses for
 * doubles): the shortest digits that round-trip, never an exponent.
 */
export function formatGoFloat(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  const shortest = String(value);
  const match = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(shortest);
  if (match === null) return shortest;
  const [, sign, head, tail = '', exp] = match;
  const digits = head! + tail;
  const point = 1 + Number(exp);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** An AnyValue as plain data, as `pcommon.Value.AsRaw` gives it (for the JSON of maps and slices). */
function rawValue(value: Json): Json {
  if (!isObject(value)) return null;
  if ('stringValue' in value) return str(value.stringValue);
  if ('boolValue' in value) return value.boolValue === true;
  if ('intValue' in value) return Number(int64(value.intValue));
  if ('doubleValue' in value) return float(value.doubleValue);
  if ('bytesValue' in value) return str(value.bytesValue);
  if (isObject(value.arrayValue)) return list(value.arrayValue.values).map(rawValue);
  if (isObject(value.kvlistValue)) {
    const out: Obj = {};
    for (const kv of list(value.kvlistValue.values)) if (isObject(kv)) out[str(kv.key)] = rawValue(kv.value);
    return out;
  }
  return null;
}

/** JSON with object keys sorted, as Go's encoding/json writes a map. */
function goJson(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(goJson).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${goJson(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** An AnyValue as `pcommon.Value.AsString` writes it. */
export function valueAsString(value: Json): string {
  if (!isObject(value)) return '';
  if ('stringValue' in value) return str(value.stringValue);
  if ('boolValue' in value) return value.boolValue === true ? 'true' : 'false';
  if ('intValue' in value) return int64(value.intValue);
  if ('doubleValue' in value) return formatGoFloat(float(value.doubleValue));
  if ('bytesValue' in value) return str(value.bytesValue);
  if (isObject(value.arrayValue) || isObject(value.kvlistValue)) return goJson(rawValue(value));
  return '';
}

/** Attributes as the exporter's `Map(LowCardinality(String), String)`. */
export function attributeMap(attributes: Json): AttributeMap {
  const out: AttributeMap = Object.create(null) as AttributeMap;
  for (const kv of list(attributes)) {
    if (isObject(kv) && typeof kv.key === 'string') out[kv.key] = valueAsString(kv.value);
  }
  return out;
}

/** pdata's `SpanKind.String()`. */
export const SPAN_KINDS = ['Unspecified', 'Internal', 'Server', 'Client', 'Producer', 'Consumer'];
/** pdata's `StatusCode.String()`. */
export const STATUS_CODES = ['Unset', 'Ok', 'Error'];

/** Ids arrive as hex in OTLP/JSON; the exporter writes lower-case hex, empty for an all-zero id. */
function hexId(value: Json): string {
  const hex = str(value).toLowerCase();
  return /^0*$/.test(hex) ? '' : hex;
}

function nanos(value: Json): string {
  return int64(value);
}

function serviceNameOf(resourceAttributes: AttributeMap): string {
  return resourceAttributes['service.name'] ?? '';
}

/** One row of `otel_traces`. */
export interface TraceRow {
  Timestamp: string;
  TraceId: string;
  SpanId: string;
  ParentSpanId: string;
  TraceState: string;
  SpanName: string;
  SpanKind: string;
  ServiceName: string;
  ResourceAttributes: AttributeMap;
  ScopeName: string;
  ScopeVersion: string;
  SpanAttributes: AttributeMap;
  Duration: string;
  StatusCode: string;
  StatusMessage: string;
  'Events.Timestamp': string[];
  'Events.Name': string[];
  'Events.Attributes': AttributeMap[];
  'Links.TraceId': string[];
  'Links.SpanId': string[];
  'Links.TraceState': string[];
  'Links.Attributes': AttributeMap[];
}

/** The rows of `otel_traces` for an OTLP/JSON `ExportTraceServiceRequest`. */
export function traceRows(request: Json): TraceRow[] {
  const rows: TraceRow[] = [];
  if (!isObject(request)) return rows;
  for (const resourceSpans of list(request.resourceSpans)) {
    if (!isObject(resourceSpans)) continue;
    const resource = attributeMap(isObject(resourceSpans.resource) ? resourceSpans.resource.attributes : undefined);
    const serviceName = serviceNameOf(resource);
    for (const scopeSpans of list(resourceSpans.scopeSpans)) {
      if (!isObject(scopeSpans)) continue;
      const scope = isObject(scopeSpans.scope) ? scopeSpans.scope : {};
      for (const span of list(scopeSpans.spans)) {
        if (!isObject(span)) continue;
        const status = isObject(span.status) ? span.status : {};
        const events = list(span.events).filter(isObject);
        const links = list(span.links).filter(isObject);
        const start = nanos(span.startTimeUnixNano);
        const duration = BigInt(nanos(span.endTimeUnixNano)) - BigInt(start);
        rows.push({
          Timestamp: start,
          TraceId: hexId(span.traceId),
          SpanId: hexId(span.spanId),
          ParentSpanId: hexId(span.parentSpanId),
          TraceState: str(span.traceState),
          SpanName: str(span.name),
          SpanKind: SPAN_KINDS[Number(span.kind ?? 0)] ?? SPAN_KINDS[0]!,
          ServiceName: serviceName,
          ResourceAttributes: resource,
          ScopeName: str(scope.name),
          ScopeVersion: str(scope.version),
          SpanAttributes: attributeMap(span.attributes),
          // Go's time.Duration of a span that ends before it starts is negative; the column is unsigned.
          Duration: (duration < 0n ? 0n : duration).toString(),
          StatusCode: STATUS_CODES[Number(status.code ?? 0)] ?? STATUS_CODES[0]!,
          StatusMessage: str(status.message),
          'Events.Timestamp': events.map((e) => nanos(e.timeUnixNano)),
          'Events.Name': events.map((e) => str(e.name)),
          'Events.Attributes': events.map((e) => attributeMap(e.attributes)),
          'Links.TraceId': links.map((l) => hexId(l.traceId)),
          'Links.SpanId': links.map((l) => hexId(l.spanId)),
          'Links.TraceState': links.map((l) => str(l.traceState)),
          'Links.Attributes': links.map((l) => attributeMap(l.attributes)),
        });
      }
    }
  }
  return rows;
}

function recordAttributes(attributes: Attributes): AttributeMap {
  const out: AttributeMap = Object.create(null) as AttributeMap;
  for (const key of Object.keys(attributes)) out[key] = valueAsString(anyValue(attributes[key]!));
  return out;
}

/**
 * The `otel_traces` row of one stored span, the same row as `traceRows(encodeTraceRequest([span]))`
 * (what the endpoint forwards and writes) without building the OTLP/JSON request in between: for
 * bulk loads such as the benchmark's. The tests hold the two to the same rows.
 */
export function spanRecordRow(span: SpanRecord): TraceRow {
  const resource: AttributeMap = Object.create(null) as AttributeMap;
  resource['service.name'] = span.service;
  resource[SOURCE_ATTRIBUTE] = span.trusted ? SOURCE_SERVICE : SOURCE_BROWSER;
  const start = nanos(span.startTimeUnixNano);
  const duration = BigInt(nanos(span.endTimeUnixNano)) - BigInt(start);
  return {
    Timestamp: start,
    TraceId: hexId(span.traceId),
    SpanId: hexId(span.spanId),
    ParentSpanId: hexId(span.parentSpanId ?? undefined),
    TraceState: '',
    SpanName: span.name,
    SpanKind: SPAN_KINDS[span.kind] ?? SPAN_KINDS[0]!,
    ServiceName: span.service,
    ResourceAttributes: resource,
    ScopeName: span.scope,
    ScopeVersion: '',
    SpanAttributes: recordAttributes(span.attributes),
    Duration: (duration < 0n ? 0n : duration).toString(),
    StatusCode: STATUS_CODES[span.statusCode] ?? STATUS_CODES[0]!,
    StatusMessage: span.statusMessage,
    'Events.Timestamp': span.events.map((e) => nanos(e.timeUnixNano)),
    'Events.Name': span.events.map((e) => e.name),
    'Events.Attributes': span.events.map((e) => recordAttributes(e.attributes)),
    'Links.TraceId': span.links.map((l) => hexId(l.traceId)),
    'Links.SpanId': span.links.map((l) => hexId(l.spanId)),
    'Links.TraceState': span.links.map(() => ''),
    'Links.Attributes': span.links.map((l) => recordAttributes(l.attributes)),
  };
}

/** Columns every metric table has. */
export interface MetricRowBase {
  ResourceAttributes: AttributeMap;
  ResourceSchemaUrl: string;
  ScopeName: string;
  ScopeVersion: string;
  ScopeAttributes: AttributeMap;
  ScopeDroppedAttrCount: number;
  ScopeSchemaUrl: string;
  ServiceName: string;
  MetricName: string;
  MetricDescription: string;
  MetricUnit: string;
  Attributes: AttributeMap;
  StartTimeUnix: string;
  TimeUnix: string;
  Flags: number;
  'Exemplars.FilteredAttributes': AttributeMap[];
  'Exemplars.TimeUnix': string[];
  'Exemplars.Value': number[];
  'Exemplars.SpanId': string[];
  'Exemplars.TraceId': string[];
}

export interface GaugeRow extends MetricRowBase {
  Value: number;
}
export interface SumRow extends GaugeRow {
  AggregationTemporality: number;
  IsMonotonic: boolean;
}
export interface HistogramRow extends MetricRowBase {
  Count: string;
  Sum: number;
  BucketCounts: string[];
  ExplicitBounds: number[];
  Min: number;
  Max: number;
  AggregationTemporality: number;
}

export interface MetricRows {
  gauge: GaugeRow[];
  sum: SumRow[];
  histogram: HistogramRow[];
}

/** A number point's value: the exporter writes an int point as its float64. */
function pointValue(point: Obj): number {
  return point.asDouble !== undefined ? float(point.asDouble) : Number(int64(point.asInt));
}

/** The rows of the metric tables for an OTLP/JSON `ExportMetricsServiceRequest` (exponential histograms and summaries are not mapped). */
export function metricRows(request: Json): MetricRows {
  const rows: MetricRows = { gauge: [], sum: [], histogram: [] };
  if (!isObject(request)) return rows;
  for (const resourceMetrics of list(request.resourceMetrics)) {
    if (!isObject(resourceMetrics)) continue;
    const resource = attributeMap(isObject(resourceMetrics.resource) ? resourceMetrics.resource.attributes : undefined);
    for (const scopeMetrics of list(resourceMetrics.scopeMetrics)) {
      if (!isObject(scopeMetrics)) continue;
      const scope = isObject(scopeMetrics.scope) ? scopeMetrics.scope : {};
      for (const metric of list(scopeMetrics.metrics)) {
        if (!isObject(metric)) continue;
        const base = (point: Obj): MetricRowBase => {
          const exemplars = list(point.exemplars).filter(isObject);
          return {
            ResourceAttributes: resource,
            ResourceSchemaUrl: str(resourceMetrics.schemaUrl),
            ScopeName: str(scope.name),
            ScopeVersion: str(scope.version),
            ScopeAttributes: attributeMap(scope.attributes),
            ScopeDroppedAttrCount: Number(scope.droppedAttributesCount ?? 0),
            ScopeSchemaUrl: str(scopeMetrics.schemaUrl),
            ServiceName: serviceNameOf(resource),
            MetricName: str(metric.name),
            MetricDescription: str(metric.description),
            MetricUnit: str(metric.unit),
            Attributes: attributeMap(point.attributes),
            StartTimeUnix: nanos(point.startTimeUnixNano),
            TimeUnix: nanos(point.timeUnixNano),
            Flags: Number(point.flags ?? 0),
            'Exemplars.FilteredAttributes': exemplars.map((e) => attributeMap(e.filteredAttributes)),
            'Exemplars.TimeUnix': exemplars.map((e) => nanos(e.timeUnixNano)),
            'Exemplars.Value': exemplars.map(pointValue),
            'Exemplars.SpanId': exemplars.map((e) => hexId(e.spanId)),
            'Exemplars.TraceId': exemplars.map((e) => hexId(e.traceId)),
          };
        };
        if (isObject(metric.gauge)) {
          for (const point of list(metric.gauge.dataPoints).filter(isObject)) rows.gauge.push({ ...base(point), Value: pointValue(point) });
        } else if (isObject(metric.sum)) {
          const sum = metric.sum;
          for (const point of list(sum.dataPoints).filter(isObject)) {
            rows.sum.push({ ...base(point), Value: pointValue(point), AggregationTemporality: Number(sum.aggregationTemporality ?? 0), IsMonotonic: sum.isMonotonic === true });
          }
        } else if (isObject(metric.histogram)) {
          const histogram = metric.histogram;
          for (const point of list(histogram.dataPoints).filter(isObject)) {
            rows.histogram.push({
              ...base(point),
              Count: int64(point.count),
              Sum: float(point.sum),
              BucketCounts: list(point.bucketCounts).map(int64),
              ExplicitBounds: list(point.explicitBounds).map(float),
              Min: float(point.min),
              Max: float(point.max),
              AggregationTemporality: Number(histogram.aggregationTemporality ?? 0),
            });
          }
        }
      }
    }
  }
  return rows;
}
