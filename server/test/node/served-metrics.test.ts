/**
 * startTelemetry's own aggregation of impressions and latency against the SDK's instruments:
 * the same records, collected at the same times, export the same OTLP metrics.
 */
import { JsonMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, MeterProvider, MetricReader, type MetricProducer } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { instrumentRecorder, LATENCY_BUCKETS_MS, ServedMetricsProducer, type ServedMetricsRecorder } from '../../src/node/served-metrics.js';

class ManualReader extends MetricReader {
  constructor(metricProducers?: MetricProducer[]) {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA, metricProducers });
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const resource = resourceFromAttributes({ 'service.name': 'my-recs' });

/** The two setups side by side: the SDK's counter and histogram, and the producer. */
function setups(): { record: ServedMetricsRecorder['record']; collect: () => Promise<[unknown, unknown]> } {
  const sdkReader = new ManualReader();
  const sdk = instrumentRecorder(new MeterProvider({ resource, readers: [sdkReader] }).getMeter('variant-lens'));
  const producer = new ServedMetricsProducer({ name: 'variant-lens' });
  const ownReader = new ManualReader([producer]);
  new MeterProvider({ resource, readers: [ownReader] }).getMeter('variant-lens');
  const exported = async (reader: MetricReader) => JSON.parse(new TextDecoder().decode(JsonMetricsSerializer.serializeRequest((await reader.collect()).resourceMetrics)!)) as unknown;
  return {
    record(attributes, count, latencyMs) {
      sdk.record(attributes, count, latencyMs);
      producer.record(attributes, count, latencyMs);
    },
    collect: async () => [await exported(sdkReader), await exported(ownReader)],
  };
}

const control = Object.freeze({ rec_algorithm_v3: 'control', search_ranking_v2: 'unknown' });
const treatment = Object.freeze({ rec_algorithm_v3: 'treatment', search_ranking_v2: 'unknown' });
const other = Object.freeze({ rec_algorithm_v3: 'control', search_ranking_v2: 'bm25' });

describe('ServedMetricsProducer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-12-04T20:00:00.000Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('exports what the SDK counter and histogram export, collection after collection (delta temporality)', async () => {
    const { record, collect } = setups();
    const tick = (ms: number) => vi.setSystemTime(Date.now() + ms);
    // Every bucket edge, values between them, beyond the last boundary, and zero.
    const latencies = [0, 0.2, ...LATENCY_BUCKETS_MS, ...LATENCY_BUCKETS_MS.map((b) => b * 1.5), 12_345.678];
    const rounds: (() => void)[] = [
      () => {
        for (const [i, latency] of latencies.entries()) {
          record(i % 2 === 0 ? control : treatment, i % 11, latency);
          if (i % 5 === 0) tick(3);
        }
      },
      // control again (its point now starts at the last collection), other for the first time, treatment not at all.
      () => {
        record(other, 10, 7.25);
        tick(1);
        record(control, 0, 0.75);
        record(control, 10, 30);
      },
      // Nothing recorded: nothing exported.
      () => {},
      // treatment was not reported last time: its point starts at its first record again.
      () => {
        tick(2);
        record(treatment, 4, 1);
        record({ ...treatment }, 6, 2);
      },
    ];
    for (const round of rounds) {
      round();
      tick(1000);
      const [sdk, own] = await collect();
      expect(own).toEqual(sdk);
    }
  });

  it('counts data the same way the SDK does: points per attribute set, bucket counts, sum, min and max', async () => {
    const { record, collect } = setups();
    record(control, 10, 0.5);
    record(control, 10, 0.6);
    record(treatment, 3, 5000.1);
    const [, own] = await collect();
    const metrics = (own as { resourceMetrics: { scopeMetrics: { scope: { name: string }; metrics: { name: string; sum?: { dataPoints: { asDouble: number }[] }; histogram?: { dataPoints: { bucketCounts: string[]; sum: number; min: number; max: number }[] } }[] }[] }[] }).resourceMetrics[0]!.scopeMetrics;
    expect(metrics.map((s) => s.scope.name)).toEqual(['variant-lens']);
    const [impressions, latency] = metrics[0]!.metrics;
    expect(impressions!.name).toBe('recommendation.impressions');
    expect(impressions!.sum!.dataPoints.map((p) => p.asDouble)).toEqual([20, 3]);
    expect(latency!.name).toBe('recommendation.latency');
    const [first, second] = latency!.histogram!.dataPoints;
    expect(first!.bucketCounts.map(Number)).toEqual([1, 1, ...Array<number>(12).fill(0)]);
    expect([first!.sum, first!.min, first!.max]).toEqual([1.1, 0.5, 0.6]);
    expect(second!.bucketCounts.map(Number)).toEqual([...Array<number>(13).fill(0), 1]);
  });
});
