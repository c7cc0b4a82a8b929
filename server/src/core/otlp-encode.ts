/**
 * Encodes stored records back into OTLP/JSON export requests: what the collection endpoint
 * forwards to a Collector (and writes to ClickHouse embedded). Only accepted items are encoded,
 * so a forwarded batch never carries what the endpoint rejected, and every resource is marked
 * with its source, set here from `trusted` — whatever value a client sent is replaced.
 */
import type { AttributeValue, Attributes, MetricPointRecord, SpanRecord } from './telemetry-records.js';

/** Resource attribute naming where telemetry came from, as the endpoint saw it. */
export const SOURCE_ATTRIBUTE = 'variant_lens.source';
/** Values of {@link SOURCE_ATTRIBUTE}: the deployment's own services (trusted) or browsers. */
export const SOURCE_SERVICE = 'service';
export const SOURCE_BROWSER = 'browser';

export type OtlpAnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number }
  | { arrayValue: { values: OtlpAnyValue[] } }
  | { kvlistValue: { values: OtlpKeyValue[] } }
  | Record<string, never>;

export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

/** An attribute value as OTLP AnyValue. Integers stay integers; an integer too large for a double was kept as its decimal string. */
export function anyValue(value: AttributeValue): OtlpAnyValue {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value };
  if (value === null) return {};
  if (Array.isArray(value)) return { arrayValue: { values: value.map(anyValue) } };
  return { kvlistValue: { values: keyValues(value) } };
}

export function keyValues(attributes: Attributes): OtlpKeyValue[] {
  return Object.keys(attributes).map((key) => ({ key, value: anyValue(attributes[key]!) }));
}

/**
 * The resource of a record: its service, marked with its source. Records keep no other resource
 * attribute, so none is forwarded; a client's own `variant_lens.source` never survives decoding.
 */
function resourceOf(service: string, trusted: boolean): OtlpKeyValue[] {
  return keyValues({ 'service.name': service, [SOURCE_ATTRIBUTE]: trusted ? SOURCE_SERVICE : SOURCE_BROWSER });
}

/** Groups items by a key, keeping first-seen order. */
function groupBy<T>(items: readonly T[], key: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group === undefined) groups.set(k, [item]);
    else group.push(item);
  }
  return [...groups.values()];
}

function resourceKey(service: string, trusted: boolean): string {
  return `${trusted ? 1 : 0}\u0000${service}`;
}

/** Spans as an OTLP/JSON `ExportTraceServiceRequest`, one resource per (source, resource) and one scope per scope name. */
export function encodeTraceRequest(spans: readonly SpanRecord[]): { resourceSpans: object[] } {
  return {
    resourceSpans: groupBy(spans, (s) => resourceKey(s.service, s.trusted)).map((group) => ({
      resource: { attributes: resourceOf(group[0]!.service, group[0]!.trusted) },
      scopeSpans: groupBy(group, (s) => s.scope).map((scoped) => ({
        scope: { name: scoped[0]!.scope },
        spans: scoped.map((s) => ({
          traceId: s.traceId,
          spanId: s.spanId,
          ...(s.parentSpanId === null ? {} : { parentSpanId: s.parentSpanId }),
          name: s.name,
          kind: s.kind,
          startTimeUnixNano: s.startTimeUnixNano,
          endTimeUnixNano: s.endTimeUnixNano,
          attributes: keyValues(s.attributes),
          events: s.events.map((e) => ({ name: e.name, timeUnixNano: e.timeUnixNano, attributes: keyValues(e.attributes) })),
          links: s.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId, attributes: keyValues(l.attributes) })),
          status: { code: s.statusCode, ...(s.statusMessage === '' ? {} : { message: s.statusMessage }) },
        })),
      })),
    })),
  };
}

function pointOf(p: MetricPointRecord): object {
  const common = { attributes: keyValues(p.attributes), startTimeUnixNano: p.startTimeUnixNano, timeUnixNano: p.timeUnixNano };
  if (p.kind !== 'histogram') return { ...common, asDouble: p.value };
  return {
    ...common,
    count: String(p.count ?? 0),
    ...(p.sum === null ? {} : { sum: p.sum }),
    bucketCounts: (p.bucketCounts ?? []).map(String),
    explicitBounds: p.explicitBounds ?? [],
  };
}

/** Points as an OTLP/JSON `ExportMetricsServiceRequest`, one metric per (scope, name, kind, temporality, unit). */
export function encodeMetricsRequest(points: readonly MetricPointRecord[]): { resourceMetrics: object[] } {
  return {
    resourceMetrics: groupBy(points, (p) => resourceKey(p.service, p.trusted)).map((group) => ({
      resource: { attributes: resourceOf(group[0]!.service, group[0]!.trusted) },
      scopeMetrics: groupBy(group, (p) => p.scope).map((scoped) => ({
        scope: { name: scoped[0]!.scope },
        metrics: groupBy(scoped, (p) => `${p.name}\u0000${p.kind}\u0000${p.temporality}\u0000${p.monotonic}\u0000${p.unit}`).map((metric) => {
          const first = metric[0]!;
          const dataPoints = metric.map(pointOf);
          const data =
            first.kind === 'gauge'
              ? { gauge: { dataPoints } }
              : first.kind === 'sum'
                ? { sum: { dataPoints, aggregationTemporality: first.temporality, isMonotonic: first.monotonic } }
                : { histogram: { dataPoints, aggregationTemporality: first.temporality } };
          return { name: first.name, unit: first.unit, ...data };
        }),
      })),
    })),
  };
}
