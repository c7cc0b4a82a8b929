/**
 * The SDK's own delta counters against what they replace: the OpenTelemetry metrics SDK's
 * `MeterProvider` with a delta reader, serialized by `JsonMetricsSerializer` (what the script
 * tag sent before). Same adds in, the same OTLP/JSON out, times aside.
 */
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { JsonMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { describe, expect, it } from 'vitest';
import { DeltaMetrics, type MetricsRequest } from '../src/delta-metrics.js';

const RESOURCE = { 'service.name': 'content-site', 'session.id': 's-1' };
const CLICKS = ['recommendation.click_through', 'Recommendations clicked'] as const;
const VIEWS = ['recommendation.viewable_impressions', 'Recommendations viewable (IAB: 50% for 1 s)'] as const;
type Add = [counter: 0 | 1, value: number, attributes: Record<string, string | number>];

/** Ours: the adds, then one collection. */
function ours(adds: Add[]): MetricsRequest | undefined {
  const sent: MetricsRequest[] = [];
  const metrics = new DeltaMetrics(RESOURCE, 'variant-lens-sdk', { export: (r, done) => (sent.push(r), done({ code: 0 })), shutdown: async () => {} }, 3_600_000);
  const counters = [metrics.counter(...CLICKS), metrics.counter(...VIEWS)];
  for (const [counter, value, attributes] of adds) counters[counter]!.add(value, attributes);
  const request = metrics.collect();
  void metrics.shutdown();
  return request;
}

/** The metrics SDK's: the same adds through a delta reader, serialized as the stock exporter does. */
async function stock(adds: Add[]): Promise<MetricsRequest | undefined> {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.DELTA);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ resource: resourceFromAttributes(RESOURCE), readers: [reader] });
  const meter = provider.getMeter('variant-lens-sdk');
  const counters = [meter.createCounter(CLICKS[0], { description: CLICKS[1] }), meter.createCounter(VIEWS[0], { description: VIEWS[1] })];
  for (const [counter, value, attributes] of adds) counters[counter]!.add(value, attributes);
  const { resourceMetrics } = await reader.collect();
  await provider.shutdown();
  if (resourceMetrics.scopeMetrics.every((s) => s.metrics.every((m) => m.dataPoints.length === 0))) return undefined;
  return JSON.parse(new TextDecoder().decode(JsonMetricsSerializer.serializeRequest(resourceMetrics))) as MetricsRequest;
}

/** Times and the attributes' order aside; the resource as the script tag gives it (with the SDK's defaults merged in). */
function comparable(request: MetricsRequest | undefined) {
  if (request === undefined) return undefined;
  return request.resourceMetrics.map((r) => ({
    resource: Object.fromEntries(r.resource.attributes.filter((a) => RESOURCE[a.key as keyof typeof RESOURCE] !== undefined).map((a) => [a.key, a.value])),
    scopes: r.scopeMetrics.map((s) => ({
      scope: s.scope.name,
      metrics: s.metrics
        .filter((m) => m.sum.dataPoints.length > 0)
        .map((m) => ({
          name: m.name,
          description: m.description,
          unit: m.unit,
          temporality: m.sum.aggregationTemporality,
          monotonic: m.sum.isMonotonic,
          points: m.sum.dataPoints
            .map((p) => ({ attributes: [...p.attributes].sort((a, b) => a.key.localeCompare(b.key)), value: p.asDouble }))
            .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
        })),
    })),
  }));
}

describe('DeltaMetrics', () => {
  const cases: [string, Add[]][] = [
    ['nothing added', []],
    ['one click', [[0, 1, { 'experiment.rec_algorithm': 'hybrid', 'recommendation.position': 3 }]]],
    [
      'clicks and views, summed per attribute set whatever the order of the keys',
      [
        [0, 1, { 'experiment.rec_algorithm': 'hybrid', 'recommendation.position': 3 }],
        [0, 1, { 'recommendation.position': 3, 'experiment.rec_algorithm': 'hybrid' }],
        [0, 1, { 'experiment.rec_algorithm': 'control', 'recommendation.position': 1 }],
        [1, 1, { 'experiment.rec_algorithm': 'hybrid' }],
        [1, 1, { 'experiment.rec_algorithm': 'hybrid' }],
        [1, 2.5, {}],
      ],
    ],
  ];
  it.each(cases)('sends what the metrics SDK sent: %s', async (_name, adds) => {
    expect(comparable(ours(adds))).toEqual(comparable(await stock(adds)));
  });

  it('sends each add once: a collection takes what was added since the last, from where the last ended', () => {
    const sent: MetricsRequest[] = [];
    const metrics = new DeltaMetrics(RESOURCE, 'variant-lens-sdk', { export: (r, done) => (sent.push(r), done({ code: 0 })), shutdown: async () => {} }, 3_600_000);
    const clicks = metrics.counter(...CLICKS);
    clicks.add(1, { 'experiment.rec_algorithm': 'hybrid' });
    const first = metrics.collect()!;
    expect(metrics.collect()).toBeUndefined();
    clicks.add(1, { 'experiment.rec_algorithm': 'hybrid' });
    clicks.add(-1, { 'experiment.rec_algorithm': 'hybrid' });
    const second = metrics.collect()!;
    const point = (r: MetricsRequest) => r.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.sum.dataPoints[0]!;
    expect([point(first).asDouble, point(second).asDouble]).toEqual([1, 1]);
    expect(point(second).startTimeUnixNano).toBe(point(first).timeUnixNano);
    expect(BigInt(point(first).timeUnixNano)).toBeGreaterThanOrEqual(BigInt(point(first).startTimeUnixNano));
    expect(point(first).timeUnixNano).toMatch(/^\d{19}$/);
    void metrics.shutdown();
  });

  it('flushes on shutdown, and resolves a flush once the exporter has answered', async () => {
    const sent: MetricsRequest[] = [];
    let answer: (() => void) | undefined;
    const metrics = new DeltaMetrics(RESOURCE, 'variant-lens-sdk', { export: (r, done) => (sent.push(r), (answer = () => done({ code: 0 }))), shutdown: async () => {} }, 3_600_000);
    metrics.counter(...VIEWS).add(1, {});
    let flushed = false;
    const flushing = metrics.flush().then(() => (flushed = true));
    await Promise.resolve();
    expect([sent.length, flushed]).toEqual([1, false]);
    answer!();
    await flushing;
    metrics.counter(...CLICKS).add(1, {});
    const stopping = metrics.shutdown();
    answer!();
    await stopping;
    expect(sent.map((r) => r.resourceMetrics[0]!.scopeMetrics[0]!.metrics.map((m) => m.name))).toEqual([[VIEWS[0]], [CLICKS[0]]]);
  });
});
