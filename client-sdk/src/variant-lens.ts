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

const logger = diag.createComponentLogger({ namespace: 'variant-lens' });
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

  constructor(readonly config: VariantLensConfig) {
    this.memory = new VisitMemory(safeStorage('sessionStorage'));
    this.visitorId = resolveVisitorId(config.visitorId, window.location, safeStorage('sessionStorage'), safeStorage('localStorage'));
    const resource = resourceFromAttributes({ 'service.name': config.serviceName, 'session.id': this.memory.sessionId });
    this.tracerProvider = new WebTracerProvider({
      resource,
      spanProcessors: [
        new BatchSpanProcessor(new OTLPTraceExporter({ url: `${config.endpoint}/v1/traces` }), {
          scheduledDelayMillis: config.spanBatchDelayMs,
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
          exporter: new OTLPMetricExporter({
            url: `${config.endpoint}/v1/metrics`,
            temporalityPreference: AggregationTemporalityPreference.DELTA,
          }),
          exportIntervalMillis: config.metricIntervalMs,
        }),
      ],
    });
    registerInstrumentations({
      tracerProvider: this.tracerProvider,
      meterProvider: this.meterProvider,
      instrumentations: [
        new FetchInstrumentation({
          propagateTraceHeaderCorsUrls: config.propagateTo.map((origin) => new RegExp(`^${origin.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(/|$)`)),
          ignoreUrls: [new RegExp(`^${config.endpoint.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/v1/`)],
        }),
      ],
    });
    this.tracer = this.tracerProvider.getTracer(SCOPE);
    this.clickThrough = this.meterProvider.getMeter(SCOPE).createCounter('recommendation.click_through', {
      description: 'Number of recommendations that were clicked',
    });
    this.viewableImpressions = this.meterProvider.getMeter(SCOPE).createCounter('recommendation.viewable_impressions', {
      description: 'Recommendations at least 50% visible for at least 1 s (IAB), once per item per served list',
    });
    const stops = config.autoTrack
      ? [
          trackClicksOn(document, (click) => this.trackRecommendationClick(click.contentId, click.position, this.memory.experimentDataFor(click.requestId))),
          trackViews(document, (view) => this.trackRecommendationView(view)),
        ]
      : [];
    this.stopTracking = () => stops.forEach((stop) => stop());
    const flushWhenHidden = () => {
      if (document.visibilityState === 'hidden') void this.flush();
    };
    document.addEventListener('visibilitychange', flushWhenHidden);
    window.addEventListener('pagehide', () => void this.flush());
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
    try {
      this.memory.rememberResponse({ baggage: experimentData.baggage ?? this.memory.visitBaggage() });
      const experiments = experimentAttributes({ ...experimentData, baggage: experimentData.baggage ?? this.memory.visitBaggage() });
      const links: Link[] = [];
      if (experimentData.trace) {
        links.push({ context: { traceId: experimentData.trace.traceId, spanId: experimentData.trace.spanId, traceFlags: TraceFlags.SAMPLED } });
      }
      const span = this.tracer.startSpan('recommendation.click', {
        attributes: {
          ...experiments,
          'recommendation.position': position,
          'content.id': contentId,
          ...(experimentData.requestId === undefined ? {} : { 'recommendation.request_id': experimentData.requestId }),
        },
        links,
      });
      span.end();
      this.clickThrough.add(1, { ...experiments, 'recommendation.position': position });
      void this.flush();
    } catch (error) {
      logger.error('tracking a click failed', error);
    }
  }

  /** Records a viewable impression: a `recommendation.view` span and `recommendation.viewable_impressions` += 1. */
  private trackRecommendationView(view: RecommendationClick): void {
    try {
      const data = this.memory.experimentDataFor(view.requestId);
      const experiments = experimentAttributes({ ...data, baggage: data.baggage ?? this.memory.visitBaggage() });
      this.tracer
        .startSpan('recommendation.view', {
          attributes: {
            ...experiments,
            'recommendation.position': view.position,
            'content.id': view.contentId,
            ...(view.requestId === undefined ? {} : { 'recommendation.request_id': view.requestId }),
          },
        })
        .end();
      this.viewableImpressions.add(1, experiments);
    } catch (error) {
      logger.error('tracking a view failed', error);
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
