/** Converts the OpenTelemetry SDK's in-memory span and metric data into stored records. */
import type { Attributes as OtelAttributes, HrTime } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { canonicalJson, type Attributes, type MetricPointRecord, type SpanRecord } from '../core/telemetry-records.js';

const NANOS_PER_SECOND = 1_000_000_000n;

/** An `HrTime` ([seconds, nanoseconds]) as decimal nanoseconds since the epoch. */
export function hrTimeToNanos([seconds, nanos]: HrTime): string {
  return (BigInt(seconds) * NANOS_PER_SECOND + BigInt(nanos)).toString();
}

function attributes(source: OtelAttributes | undefined): Attributes {
  const out: Attributes = {};
  if (source === undefined) return out;
  // for…in, not Object.entries: the SDK's attribute objects have no prototype, and entries
  // cost three times as much on them (once per span, on the request path's thread).
  for (const key in source) {
    const value = source[key];
    if (value !== undefined) out[key] = value as Attributes[string];
  }
  return out;
}

function serviceOf(resourceAttributes: OtelAttributes): string {
  const name = resourceAttributes['service.name'];
  return typeof name === 'string' ? name : 'unknown_service';
}

/** A finished SDK span as a trusted stored span. The API's SpanKind starts at 0; OTLP's at 1. */
export function spanToRecord(span: ReadableSpan): SpanRecord {
  const context = span.spanContext();
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    parentSpanId: span.parentSpanContext?.spanId ?? null,
    name: span.name,
    kind: span.kind + 1,
    service: serviceOf(span.resource.attributes),
    scope: span.instrumentationScope.name,
    startTimeUnixNano: hrTimeToNanos(span.startTime),
    endTimeUnixNano: hrTimeToNanos(span.endTime),
    statusCode: span.status.code,
    statusMessage: span.status.message ?? '',
    attributes: attributes(span.attributes),
    events: span.events.map((event) => ({
      name: event.name,
      timeUnixNano: hrTimeToNanos(event.time),
      attributes: attributes(event.attributes),
    })),
    links: span.links.map((link) => ({
      traceId: link.context.traceId,
      spanId: link.context.spanId,
      attributes: attributes(link.attributes),
    })),
    trusted: true,
  };
}

/** SDK temporality (DELTA 0, CUMULATIVE 1) to OTLP's (1, 2). */
function otlpTemporality(temporality: AggregationTemporality): 1 | 2 {
  return temporality === AggregationTemporality.DELTA ? 1 : 2;
}

/** Every data point of a collection as trusted stored points. */
export function metricsToRecords(resourceMetrics: ResourceMetrics): MetricPointRecord[] {
  const service = serviceOf(resourceMetrics.resource.attributes);
  const resourceKey = canonicalJson(attributes(resourceMetrics.resource.attributes));
  const points: MetricPointRecord[] = [];
  for (const scopeMetrics of resourceMetrics.scopeMetrics) {
    for (const metric of scopeMetrics.metrics) {
      const base = {
        service,
        resourceKey,
        scope: scopeMetrics.scope.name,
        name: metric.descriptor.name,
        unit: metric.descriptor.unit,
        trusted: true,
      };
      for (const point of metric.dataPoints) {
        const times = {
          attributes: attributes(point.attributes),
          startTimeUnixNano: hrTimeToNanos(point.startTime),
          timeUnixNano: hrTimeToNanos(point.endTime),
        };
        if (metric.dataPointType === DataPointType.HISTOGRAM) {
          const value = point.value as { buckets: { boundaries: number[]; counts: number[] }; sum?: number; count: number };
          points.push({
            ...base,
            ...times,
            kind: 'histogram',
            temporality: otlpTemporality(metric.aggregationTemporality),
            monotonic: false,
            value: null,
            count: value.count,
            sum: value.sum ?? null,
            bucketCounts: value.buckets.counts,
            explicitBounds: value.buckets.boundaries,
          });
        } else if (metric.dataPointType === DataPointType.SUM || metric.dataPointType === DataPointType.GAUGE) {
          const isSum = metric.dataPointType === DataPointType.SUM;
          points.push({
            ...base,
            ...times,
            kind: isSum ? 'sum' : 'gauge',
            temporality: isSum ? otlpTemporality(metric.aggregationTemporality) : 0,
            monotonic: isSum && metric.isMonotonic,
            value: point.value as number,
            count: null,
            sum: null,
            bucketCounts: null,
            explicitBounds: null,
          });
        }
      }
    }
  }
  return points;
}
