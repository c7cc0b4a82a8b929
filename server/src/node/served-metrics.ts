import { ValueType, type Attributes, type Counter, type HrTime, type Meter } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import {
  AggregationTemporality,
  DataPointType,
  InstrumentType,
  type CollectionResult,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { emptyResource } from '@opentelemetry/resources';

/** Millisecond buckets of `recommendation.latency`, from sub-millisecond cache hits to multi-second stalls. */
export const LATENCY_BUCKETS_MS = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];
const IMPRESSIONS = { name: 'recommendation.impressions', description: 'Number of recommendations shown to users', unit: '' };
const LATENCY = { name: 'recommendation.latency', description: 'Time to generate recommendations', unit: 'ms' };

/** Where `recordServed` records a served list's impressions and latency. */
export interface ServedMetricsRecorder {
  /** `attributes` are a telemetry shape's metric attributes: frozen, shared by the requests of one assignment. */
  record(attributes: Readonly<Record<string, string>>, count: number, latencyMs: number): void;
}

/** The two metrics as instruments of an OpenTelemetry meter: for an app that brings its own SDK. */
export function instrumentRecorder(meter: Meter): ServedMetricsRecorder {
  const impressions: Counter = meter.createCounter(IMPRESSIONS.name, { description: IMPRESSIONS.description });
  const latency = meter.createHistogram(LATENCY.name, { description: LATENCY.description, unit: LATENCY.unit, advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS } });
  return {
    record(attributes, count, latencyMs) {
      impressions.add(count, attributes);
      latency.record(latencyMs, attributes);
    },
  };
}

interface Accumulation {
  readonly attributes: Attributes;
  /** Date.now() of the first record since the last collection. */
  firstRecordMs: number;
  impressions: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  readonly buckets: number[];
  /** Recorded since the last collection. */
  inInterval: boolean;
  /** Reported by the previous collection: its next data point starts at that collection's time. */
  reportedLast: boolean;
}

/**
 * `recommendation.impressions` and `recommendation.latency` of `startTelemetry`, aggregated
 * here per telemetry shape and handed to the metric reader as a `MetricProducer`. A record
 * is two additions on an object found by the shape's attributes object, instead of the SDK's
 * sort-and-JSON hash of the attributes on each of the two instruments' records. The exported
 * data points are those the SDK's counter and explicit-bucket histogram export with delta
 * temporality, which `startTelemetry` selects: same names, descriptions, units, bucket
 * boundaries, sums, counts, min and max, start and end times (test: served-metrics.test.ts).
 */
export class ServedMetricsProducer implements MetricProducer, ServedMetricsRecorder {
  /** By the shape's attributes object; shapes with equal attributes (a shape rebuilt) share one by `byKey`. */
  private readonly byObject = new WeakMap<object, Accumulation>();
  private readonly byKey = new Map<string, Accumulation>();
  /** Recorded since the last collection, in first-record order (the SDK's order of data points). */
  private recorded: Accumulation[] = [];
  private lastCollection: HrTime | undefined;

  constructor(private readonly scope: { readonly name: string; readonly version?: string }) {}

  record(attributes: Readonly<Record<string, string>>, count: number, latencyMs: number): void {
    let accumulation = this.byObject.get(attributes);
    if (accumulation === undefined) accumulation = this.accumulationOf(attributes);
    if (!accumulation.inInterval) {
      accumulation.inInterval = true;
      accumulation.firstRecordMs = Date.now();
      this.recorded.push(accumulation);
    }
    accumulation.impressions += count;
    // As the SDK's histogram: a negative or non-number latency is not recorded.
    if (!(latencyMs >= 0)) return;
    accumulation.count += 1;
    accumulation.sum += latencyMs;
    if (latencyMs < accumulation.min) accumulation.min = latencyMs;
    if (latencyMs > accumulation.max) accumulation.max = latencyMs;
    accumulation.buckets[bucketOf(latencyMs)]! += 1;
  }

  collect(): Promise<CollectionResult> {
    const now = millisToHrTime(Date.now());
    const recorded = this.recorded;
    this.recorded = [];
    const previous = this.lastCollection;
    this.lastCollection = now;
    const startOf = (a: Accumulation) => (a.reportedLast && previous !== undefined ? previous : millisToHrTime(a.firstRecordMs));
    const metrics: MetricData[] = [];
    if (recorded.length > 0) {
      metrics.push({
        descriptor: { ...IMPRESSIONS, valueType: ValueType.DOUBLE, type: InstrumentType.COUNTER, advice: {} } as MetricData['descriptor'],
        aggregationTemporality: AggregationTemporality.DELTA,
        dataPointType: DataPointType.SUM,
        isMonotonic: true,
        dataPoints: recorded.map((a) => ({ attributes: a.attributes, startTime: startOf(a), endTime: now, value: a.impressions })),
      });
      const latencies = recorded.filter((a) => a.count > 0);
      if (latencies.length > 0) {
        metrics.push({
          descriptor: { ...LATENCY, valueType: ValueType.DOUBLE, type: InstrumentType.HISTOGRAM, advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS } } as MetricData['descriptor'],
          aggregationTemporality: AggregationTemporality.DELTA,
          dataPointType: DataPointType.HISTOGRAM,
          dataPoints: latencies.map((a) => ({
            attributes: a.attributes,
            startTime: startOf(a),
            endTime: now,
            value: { min: a.min, max: a.max, sum: a.sum, count: a.count, buckets: { boundaries: LATENCY_BUCKETS_MS, counts: [...a.buckets] } },
          })),
        });
      }
    }
    for (const accumulation of this.byKey.values()) accumulation.reportedLast = false;
    for (const a of recorded) {
      a.reportedLast = true;
      a.inInterval = false;
      a.impressions = 0;
      a.count = 0;
      a.sum = 0;
      a.min = Infinity;
      a.max = -Infinity;
      a.buckets.fill(0);
    }
    return Promise.resolve({
      resourceMetrics: { resource: emptyResource(), scopeMetrics: metrics.length > 0 ? [{ scope: { name: this.scope.name, version: this.scope.version ?? '' }, metrics }] : [] },
      errors: [],
    });
  }

  private accumulationOf(attributes: Readonly<Record<string, string>>): Accumulation {
    const key = JSON.stringify(Object.keys(attributes).sort().map((k) => [k, attributes[k]]));
    let accumulation = this.byKey.get(key);
    if (accumulation === undefined) {
      accumulation = { attributes, firstRecordMs: 0, impressions: 0, count: 0, sum: 0, min: Infinity, max: -Infinity, buckets: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0), inInterval: false, reportedLast: false };
      this.byKey.set(key, accumulation);
    }
    this.byObject.set(attributes, accumulation);
    return accumulation;
  }
}

/** The producers of `startTelemetry`'s meter providers and meters, so the middleware records into them. */
const producers = new WeakMap<object, ServedMetricsProducer>();

/** Makes `recordServed` record into `producer` for whoever uses this meter provider or meter. */
export function useServedMetrics(providerOrMeter: object, producer: ServedMetricsProducer): void {
  producers.set(providerOrMeter, producer);
}

/** The producer registered for this meter provider or meter, if any. */
export function servedMetricsOf(providerOrMeter: object): ServedMetricsProducer | undefined {
  return producers.get(providerOrMeter);
}

/** The bucket of a value as the SDK's explicit-bucket histogram finds it: the first boundary ≥ the value, else the last bucket. */
function bucketOf(value: number): number {
  let lo = 0;
  let hi = LATENCY_BUCKETS_MS.length - 1;
  let found = LATENCY_BUCKETS_MS.length;
  while (hi >= lo) {
    const mid = (lo + hi) >>> 1;
    if (LATENCY_BUCKETS_MS[mid]! < value) lo = mid + 1;
    else {
      found = mid;
      hi = mid - 1;
    }
  }
  return found;
}
