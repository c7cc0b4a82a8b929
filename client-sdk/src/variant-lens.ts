import { diag, TraceFlags, type Counter, type Link, type Tracer } from '@opentelemetry/api';
import { CompositePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { AggregationTemporalityPreference, OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { FetchInstrumentation } from '@opentelemetry/instrumentation-fetch';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, WebTracerProvider } from '@opentelemetry/sdk-trace-web';
import { trackClicksOn, type RecommendationClick } from './click-tracking.js';
import { trackViews } from './view-tracking.js';
import { DeliveryGate, resend, UnsentStore, type Consent } from './delivery-gate.js';
import { JsonMetricsSerializer, JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { AggregationTemporality, InstrumentType, PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { VariantLensConfig } from './config.js';
import { VisitBaggagePropagator } from './visit-baggage-propagator.js';
import { resolveVisitorId, VisitMemory, type ExperimentData } from './visit-memory.js';

/** A recommendation as the server serves it. */
export interface Recommendation {
  readonly contentId: string;
  readonly title: string;
  readonly url: string;
  readonly position: number;
  readonly topic?: string;
  readonly summary?: string;
}

/** The body of `GET /api/recommendations`. */
export interface RecommendationResponse extends ExperimentData {
  readonly requestId: string;
  readonly experiments: Readonly<Record<string, string>>;
  readonly baggage: Readonly<Record<string, string>>;
  readonly recommendations: readonly Recommendation[];
}

/** A pattern for URLs that start with `prefix` (taken literally) followed by `rest`. */
function startingWith(prefix: string, rest: string): RegExp {
  return new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${rest}`);
}

const logger = diag.createComponentLogger({ namespace: 'variant-lens' });
/** Spans per export: 30 spans of OTLP/JSON stay well under the 64 KiB keepalive budget, so a batch sent as the page unloads is never split or refused. */
const SPANS_PER_EXPORT = 30;
const decoder = new TextDecoder();
const SCOPE = 'variant-lens-sdk';
const EXPERIMENT_PREFIX = 'experiment.';

function safeStorage(name: 'sessionStorage' | 'localStorage'): Storage | undefined {
  try {
    return window[name];
  } catch {
    return undefined;
  }
}

/** Experiment attributes of a click: the `experiment.*` entries, plus the seed article's field names. */
function experimentAttributes(data: ExperimentData): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(data.baggage ?? {})) {
    if (key.startsWith(EXPERIMENT_PREFIX)) attributes[key] = value;
  }
  if (data.recAlgorithm !== undefined) attributes['experiment.rec_algorithm'] ??= data.recAlgorithm;
  if (data.rankingBoost !== undefined) attributes['experiment.ranking_boost'] ??= data.rankingBoost;
  attributes['experiment.rec_algorithm'] ??= 'unknown';
  attributes['experiment.ranking_boost'] ??= 'unknown';
  return attributes;
}

/** The SDK: OpenTelemetry web tracing, metrics and fetch instrumentation, plus click tracking. */
export class VariantLens {
  readonly visitorId: string;
  private readonly memory: VisitMemory;
  private readonly tracerProvider: WebTracerProvider;
  private readonly meterProvider: MeterProvider;
  private readonly tracer: Tracer;
  private readonly clickThrough: Counter;
  private readonly viewableImpressions: Counter;
  private readonly stopTracking: () => void;
  private consent: Consent;
  private pendingFlush: ReturnType<typeof setTimeout> | undefined;
  private readonly gates: { consentChanged(): void }[] = [];
  private readonly unsent: UnsentStore;

  constructor(readonly config: VariantLensConfig) {
    const gpc = (navigator as Navigator & { globalPrivacyControl?: boolean }).globalPrivacyControl === true;
    this.consent = config.respectGpc && gpc ? 'denied' : config.consent;
    this.unsent = new UnsentStore(safeStorage('localStorage'));
    this.memory = new VisitMemory(safeStorage('sessionStorage'));
    this.visitorId = resolveVisitorId(config.visitorId, window.location, safeStorage('sessionStorage'), safeStorage('localStorage'));
    const resource = resourceFromAttributes({ 'service.name': config.serviceName, 'session.id': this.memory.sessionId });
    this.tracerProvider = new WebTracerProvider({
      resource,
      spanProcessors: [
        new BatchSpanProcessor(this.gate(new OTLPTraceExporter({ url: `${config.endpoint}/v1/traces` }), `${config.endpoint}/v1/traces`, (spans: ReadableSpan[]) => serialized(JsonTraceSerializer.serializeRequest(spans))), {
          scheduledDelayMillis: config.spanBatchDelayMs,
          maxExportBatchSize: SPANS_PER_EXPORT,
        }),
      ],
    });
    this.tracerProvider.register({
      propagator: new CompositePropagator({
        propagators: [new W3CTraceContextPropagator(), new VisitBaggagePropagator(() => this.memory.visitBaggage())],
      }),
    });
    this.meterProvider = new MeterProvider({
      resource,
      readers: [
        new PeriodicExportingMetricReader({
          exporter: this.metricGate(
            new OTLPMetricExporter({ url: `${config.endpoint}/v1/metrics`, temporalityPreference: AggregationTemporalityPreference.DELTA }),
            `${config.endpoint}/v1/metrics`,
          ),
          exportIntervalMillis: config.metricIntervalMs,
        }),
      ],
    });
    registerInstrumentations({
      tracerProvider: this.tracerProvider,
      meterProvider: this.meterProvider,
      instrumentations: [
        new FetchInstrumentation({
          propagateTraceHeaderCorsUrls: config.propagateTo.map((origin) => startingWith(origin, '(/|$)')),
          ignoreUrls: [startingWith(config.endpoint, '/v1/')],
          // The browser's own request spans carry the visit's variants too (what the baggage says).
          applyCustomAttributesOnSpan: (span) => span.setAttributes(this.memory.visitBaggage()),
        }),
      ],
    });
    this.tracer = this.tracerProvider.getTracer(SCOPE);
    const meter = this.meterProvider.getMeter(SCOPE);
    this.clickThrough = meter.createCounter('recommendation.click_through', { description: 'Recommendations clicked' });
    this.viewableImpressions = meter.createCounter('recommendation.viewable_impressions', { description: 'Recommendations viewable (IAB: 50% for 1 s)' });
    const stops = config.autoTrack
      ? [
          trackClicksOn(document, (click) => this.trackRecommendationClick(click.contentId, click.position, this.memory.experimentDataFor(click.requestId))),
          trackViews(document, (view) => this.trackRecommendationView(view)),
        ]
      : [];
    this.stopTracking = () => stops.forEach((stop) => stop());
    if (this.consent === 'granted') void this.resendUnsent();
    const flushWhenHidden = () => {
      if (document.visibilityState === 'hidden') void this.flush();
    };
    document.addEventListener('visibilitychange', flushWhenHidden);
    window.addEventListener('pagehide', () => void this.flush());
  }

  private gate<T>(exporter: { export(items: T, cb: (r: import('@opentelemetry/core').ExportResult) => void): void; shutdown(): Promise<void>; forceFlush?(): Promise<void> }, url: string, serialize: (items: T) => string | undefined): DeliveryGate<T> {
    const gate = new DeliveryGate(exporter, url, serialize, this.unsent, () => this.consent);
    this.gates.push(gate);
    return gate;
  }

  /** The metric exporter behind the gate, still telling the reader which temporality it wants. */
  private metricGate(exporter: PushMetricExporter, url: string): PushMetricExporter {
    const gate = this.gate(exporter, url, (metrics: ResourceMetrics) => serialized(JsonMetricsSerializer.serializeRequest(metrics)));
    return {
      export: (metrics, callback) => gate.export(metrics, callback),
      forceFlush: () => gate.forceFlush(),
      shutdown: () => gate.shutdown(),
      selectAggregationTemporality: (type: InstrumentType): AggregationTemporality => exporter.selectAggregationTemporality!(type),
    };
  }

  /** Resends what earlier pages of the visit could not deliver. */
  private async resendUnsent(): Promise<void> {
    const original = (globalThis.fetch as typeof fetch & { __original?: typeof fetch }).__original ?? globalThis.fetch;
    for (const batch of this.unsent.fromEarlierPages()) {
      if (await resend(batch, original.bind(globalThis))) this.unsent.remove(batch.id);
    }
  }

  /** Grants (true) or withdraws (false) consent: held telemetry is sent, or forgotten. */
  setConsent(granted: boolean): void {
    this.consent = granted ? 'granted' : 'denied';
    for (const gate of this.gates) gate.consentChanged();
    if (granted) void this.resendUnsent();
  }

  /** The current consent state. */
  consentState(): Consent {
    return this.consent;
  }

  /** Fetches recommendations for the visitor through the instrumented fetch and remembers their experiment data. */
  async getRecommendations(options: { limit?: number } = {}): Promise<RecommendationResponse> {
    const params = new URLSearchParams({ userId: this.visitorId });
    if (options.limit !== undefined) params.set('limit', String(options.limit));
    const response = await fetch(`${this.config.endpoint}/api/recommendations?${params.toString()}`);
    if (!response.ok) throw new Error(`recommendations request failed with status ${response.status}`);
    const body = (await response.json()) as RecommendationResponse;
    this.memory.rememberResponse(body);
    return body;
  }

  /** The experiment data remembered for a served list (or for the visit). */
  experimentData(requestId?: string): ExperimentData {
    return this.memory.experimentDataFor(requestId);
  }

  /**
   * Records a click on a recommendation: a `recommendation.click` span linked to the request
   * that served it, and `recommendation.click_through` += 1; then sends both at once, with
   * keepalive, so a click that navigates away is still delivered.
   */
  trackRecommendationClick(contentId: string, position: number, experimentData: ExperimentData = {}): void {
    this.record('recommendation.click', this.clickThrough, { contentId, position, requestId: experimentData.requestId }, experimentData, true);
    // Sent right after the click's own work; a click that navigates away is also covered
    // by the flush on pagehide, which the browser runs before it leaves the page.
    if (this.pendingFlush === undefined) {
      this.pendingFlush = setTimeout(() => {
        this.pendingFlush = undefined;
        void this.flush();
      }, 0);
    }
  }

  /** Records a viewable impression: a `recommendation.view` span and `recommendation.viewable_impressions` += 1. */
  private trackRecommendationView(view: RecommendationClick): void {
    this.record('recommendation.view', this.viewableImpressions, view, this.memory.experimentDataFor(view.requestId), false);
  }

  /**
   * One recommendation event: a span with the experiment attributes, position, content and
   * request id (linked to the request's span for clicks), and its counter. Never throws.
   */
  private record(name: string, counter: Counter, item: { contentId: string; position: number; requestId?: string | undefined }, data: ExperimentData, link: boolean): void {
    try {
      const baggage = data.baggage ?? this.memory.visitBaggage();
      const experiments = experimentAttributes({ ...data, baggage });
      const links: Link[] = link && data.trace ? [{ context: { traceId: data.trace.traceId, spanId: data.trace.spanId, traceFlags: TraceFlags.SAMPLED } }] : [];
      this.tracer
        .startSpan(name, {
          attributes: {
            ...experiments,
            'recommendation.position': item.position,
            'content.id': item.contentId,
            ...(item.requestId === undefined ? {} : { 'recommendation.request_id': item.requestId }),
          },
          links,
        })
        .end();
      counter.add(1, link ? { ...experiments, 'recommendation.position': item.position } : experiments);
    } catch (error) {
      logger.error(`recording ${name} failed`, error);
    }
  }

  /** Sends every pending span and metric now. Never rejects. */
  async flush(): Promise<void> {
    try {
      await Promise.all([this.tracerProvider.forceFlush(), this.meterProvider.forceFlush()]);
    } catch (error) {
      logger.warn('flushing telemetry failed', error);
    }
  }

  /** Stops tracking and shuts the providers down. */
  async shutdown(): Promise<void> {
    this.stopTracking();
    await Promise.allSettled([this.tracerProvider.shutdown(), this.meterProvider.shutdown()]);
  }
}

function serialized(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : decoder.decode(bytes);
}
