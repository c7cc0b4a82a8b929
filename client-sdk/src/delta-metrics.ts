/**
 * The SDK's two counters (`recommendation.click_through`, `recommendation.viewable_impressions`)
 * without the OpenTelemetry metrics SDK, which was 44 KB of the minified script tag for two
 * monotonic sums: each counter adds per attribute set, and every `intervalMs` (and on `flush`)
 * what was added since the last collection goes out as one OTLP/JSON delta point per set,
 * through the same exporter machinery, retries and delivery gate as the spans. The points are
 * what `MeterProvider` + `PeriodicExportingMetricReader` with delta temporality made: a sum,
 * monotonic, `asDouble`, from the previous collection to this one.
 */
import type { Attributes, AttributeValue } from '@opentelemetry/api';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { createLegacyOtlpBrowserExportDelegate } from '@opentelemetry/otlp-exporter-base/browser-http';
import type { Exporter } from './delivery-gate.js';

/** An OTLP/JSON attribute. */
interface KeyValue {
  readonly key: string;
  readonly value: { stringValue: string } | { boolValue: boolean } | { doubleValue: number } | { intValue: number };
}

/** An OTLP/JSON `ExportMetricsServiceRequest` of delta sums. */
export interface MetricsRequest {
  readonly resourceMetrics: readonly {
    readonly resource: { readonly attributes: readonly KeyValue[] };
    readonly scopeMetrics: readonly {
      readonly scope: { readonly name: string };
      readonly metrics: readonly {
        readonly name: string;
        readonly description: string;
        readonly unit: string;
        readonly sum: {
          readonly aggregationTemporality: 1;
          readonly isMonotonic: true;
          readonly dataPoints: readonly { attributes: KeyValue[]; startTimeUnixNano: string; timeUnixNano: string; asDouble: number }[];
        };
      }[];
    }[];
  }[];
}

export interface DeltaCounter {
  add(value: number, attributes?: Attributes): void;
}

/** A counter's sums since the last collection, by attribute set (its JSON). */
interface Instrument {
  readonly name: string;
  readonly description: string;
  readonly sums: Map<string, { readonly attributes: KeyValue[]; value: number }>;
}

function keyValues(attributes: Attributes): KeyValue[] {
  const out: KeyValue[] = [];
  for (const [key, value] of Object.entries(attributes)) {
    const kept = otlpValue(value);
    if (kept !== undefined) out.push({ key, value: kept });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function otlpValue(value: AttributeValue | undefined): KeyValue['value'] | undefined {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') return Number.isInteger(value) ? { intValue: value } : { doubleValue: value };
  return undefined;
}

/** Milliseconds since the epoch as OTLP/JSON nanoseconds. */
function nanos(ms: number): string {
  return `${Math.floor(ms)}${String(Math.round((ms % 1) * 1e6)).padStart(6, '0')}`;
}

export class DeltaMetrics {
  private readonly instruments: Instrument[] = [];
  private readonly timer: ReturnType<typeof setInterval>;
  private since = Date.now();

  constructor(
    private readonly resource: Attributes,
    private readonly scope: string,
    private readonly exporter: Exporter<MetricsRequest>,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
  }

  counter(name: string, description: string): DeltaCounter {
    const instrument: Instrument = { name, description, sums: new Map() };
    this.instruments.push(instrument);
    return {
      add: (value, attributes = {}) => {
        if (!(value >= 0)) return;
        const kept = keyValues(attributes);
        const key = JSON.stringify(kept);
        const sum = instrument.sums.get(key);
        if (sum === undefined) instrument.sums.set(key, { attributes: kept, value });
        else sum.value += value;
      },
    };
  }

  /** What was added since the last collection, as one request; undefined when nothing was. */
  collect(): MetricsRequest | undefined {
    const start = nanos(this.since);
    this.since = Date.now();
    const end = nanos(this.since);
    const metrics = this.instruments
      .filter((instrument) => instrument.sums.size > 0)
      .map(({ name, description, sums }) => {
        const dataPoints = [...sums.values()].map(({ attributes, value }) => ({ attributes, startTimeUnixNano: start, timeUnixNano: end, asDouble: value }));
        sums.clear();
        return { name, description, unit: '', sum: { aggregationTemporality: 1 as const, isMonotonic: true as const, dataPoints } };
      });
    if (metrics.length === 0) return undefined;
    return { resourceMetrics: [{ resource: { attributes: keyValues(this.resource) }, scopeMetrics: [{ scope: { name: this.scope }, metrics }] }] };
  }

  /** Exports what was added since the last collection; resolves when the exporter has answered. Never rejects. */
  flush(): Promise<void> {
    const request = this.collect();
    if (request === undefined) return Promise.resolve();
    return new Promise((resolve) => {
      try {
        this.exporter.export(request, () => resolve());
      } catch {
        resolve();
      }
    });
  }

  async shutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    await this.exporter.shutdown();
  }
}

const encoder = new TextEncoder();

/**
 * The OTLP/HTTP JSON exporter of these requests: the delegate the stock metric exporter is made
 * of (fetch, or sendBeacon where fetch is missing; retries of 429/502/503/504 and network errors,
 * honouring Retry-After), with a serializer of requests already in OTLP/JSON.
 */
export function otlpMetricsExporter(url: string): Exporter<MetricsRequest> {
  return new OTLPExporterBase(
    createLegacyOtlpBrowserExportDelegate(
      { url },
      { serializeRequest: (request: MetricsRequest) => encoder.encode(JSON.stringify(request)), deserializeResponse: () => ({}) },
      'otlp_http_json_metric_exporter',
      { name: 'metric_data_point', countItems: (request: MetricsRequest) => request.resourceMetrics.reduce((n, r) => n + r.scopeMetrics.reduce((m, s) => m + s.metrics.reduce((k, metric) => k + metric.sum.dataPoints.length, 0), 0), 0) },
      undefined,
      'v1/metrics',
      { 'Content-Type': 'application/json' },
    ),
  );
}
