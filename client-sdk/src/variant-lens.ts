import { context, diag, propagation, trace, type Tracer } from '@opentelemetry/api';
import { CompositePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { FetchInstrumentation } from '@opentelemetry/instrumentation-fetch';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, WebTracerProvider } from '@opentelemetry/sdk-trace-web';
import { ATTR_SERVICE_NAME, ATTR_SESSION_ID, METRIC_CLICK_THROUGH, METRIC_VIEWABLE_IMPRESSIONS, SPAN_CLICK, SPAN_VIEW } from '../../common/src/semconv.js';
import { trackClicksOn, type RecommendationClick } from './click-tracking.js';
import { recordEvent } from './recommendation-events.js';
import { isRecommendationResponse, recommendationsRequestUrl, type RecommendationResponse, type RecommendationsRequest } from './recommendations-client.js';
import { trackViews } from './view-tracking.js';
import { DeliveryGate, resend, UnsentStore, type Consent, type Exporter } from './delivery-gate.js';
import { DeltaMetrics, otlpMetricsExporter, type DeltaCounter, type MetricsRequest } from './delta-metrics.js';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { VariantLensConfig } from './config.js';
import { VisitBaggagePropagator } from './visit-baggage-propagator.js';
import { resolveVisitorId, VisitMemory, type ExperimentData } from './visit-memory.js';

export type { Recommendation, RecommendationResponse, RecommendationsRequest } from './recommendations-client.js';

/** A pattern for URLs that start with `prefix` (taken literally) followed by `rest`. */
function startingWith(prefix: string, rest: string): RegExp {
  return new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${rest}`);
}

const logger = diag.createComponentLogger({ namespace: 'variant-lens' });
/** Spans per export: 30 spans of OTLP/JSON stay well under the 64 KiB keepalive budget, so a batch sent as the page unloads is never split or refused. */
const SPANS_PER_EXPORT = 30;
const decoder = new TextDecoder();
const SCOPE = 'variant-lens-sdk';

function safeStorage(name: 'sessionStorage' | 'localStorage'): Storage | undefined {
  try {
    return window[name];
  } catch {
    return undefined;
  }
}

/** The SDK: OpenTelemetry web tracing, metrics and fetch instrumentation, plus click tracking. */
export class VariantLens {
  readonly visitorId: string;
  private readonly memory: VisitMemory;
  private readonly tracerProvider: WebTracerProvider;
  private readonly metrics: DeltaMetrics;
  private readonly tracer: Tracer;
  private readonly clickThrough: DeltaCounter;
  private readonly viewableImpressions: DeltaCounter;
  /** Undoes what the constructor added, in reverse: listeners, instrumentation, tracking. */
  private readonly undo: (() => void)[] = [];
  /** The page's fetch before the instrumentation wrapped it: resends must not make spans of their own. */
  private readonly nativeFetch: typeof fetch;
  private stopped: Promise<void> | undefined;
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
    this.nativeFetch = globalThis.fetch.bind(globalThis);
    const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName, [ATTR_SESSION_ID]: this.memory.sessionId });
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
        propagators: [new W3CTraceContextPropagator(), new VisitBaggagePropagator(() => this.memory.visitBaggage(), () => this.memory.sessionId)],
      }),
    });
    this.undo.push(() => {
      trace.disable();
      propagation.disable();
      context.disable();
    });
    const metricsUrl = `${config.endpoint}/v1/metrics`;
    this.metrics = new DeltaMetrics(
      defaultResource().merge(resource).attributes,
      SCOPE,
      this.gate(otlpMetricsExporter(metricsUrl), metricsUrl, (request: MetricsRequest) => JSON.stringify(request)),
      config.metricIntervalMs,
    );
    const unregister = registerInstrumentations({
      tracerProvider: this.tracerProvider,
      instrumentations: [
        new FetchInstrumentation({
          propagateTraceHeaderCorsUrls: config.propagateTo.map((origin) => startingWith(origin, '(/|$)')),
          ignoreUrls: [startingWith(config.endpoint, '/v1/')],
          // The browser's own request spans carry the visit's variants too (what the baggage says).
          applyCustomAttributesOnSpan: (span) => span.setAttributes(this.memory.visitBaggage()),
        }),
      ],
    });
    this.undo.push(unregister);
    this.tracer = this.tracerProvider.getTracer(SCOPE);
    this.clickThrough = this.metrics.counter(METRIC_CLICK_THROUGH, 'Recommendations clicked');
    this.viewableImpressions = this.metrics.counter(METRIC_VIEWABLE_IMPRESSIONS, 'Recommendations viewable (IAB: 50% for 1 s)');
    const stops = config.autoTrack
      ? [
          trackClicksOn(document, (click) => this.trackRecommendationClick(click.contentId, click.position, this.memory.experimentDataFor(click.requestId))),
          trackViews(document, (view) => this.trackRecommendationView(view)),
        ]
      : [];
    this.undo.push(...stops);
    if (this.consent === 'granted') void this.resendUnsent();
    const flushWhenHidden = () => {
      if (document.visibilityState === 'hidden') void this.flush();
    };
    const flushOnPagehide = () => void this.flush();
    document.addEventListener('visibilitychange', flushWhenHidden);
    window.addEventListener('pagehide', flushOnPagehide);
    this.undo.push(
      () => document.removeEventListener('visibilitychange', flushWhenHidden),
      () => window.removeEventListener('pagehide', flushOnPagehide),
    );
  }

  private gate<T>(exporter: Exporter<T>, url: string, serialize: (items: T) => string | undefined): DeliveryGate<T> {
    const gate = new DeliveryGate(exporter, url, serialize, this.unsent, () => this.consent);
    this.gates.push(gate);
    return gate;
  }

  /** Resends what earlier pages of the visit could not deliver. */
  private async resendUnsent(): Promise<void> {
    for (const batch of this.unsent.fromEarlierPages()) {
      if (await resend(batch, this.nativeFetch)) this.unsent.remove(batch.id);
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

  /**
   * Fetches recommendations for the visitor through the instrumented fetch (so the request
   * carries `traceparent` and the visit's baggage) and remembers their experiment data.
   * `url` is any recommendations service answering as `recordServed` does (default: the
   * configured `recommendationsUrl`); the visitor goes as `userId`, the limit as `limit`.
   */
  async getRecommendations(options: RecommendationsRequest = {}): Promise<RecommendationResponse> {
    const url = recommendationsRequestUrl(options.url ?? this.config.recommendationsUrl, this.visitorId, options.limit, window.location.href);
    const response = await fetch(url);
    if (!response.ok) throw new Error(`recommendations request failed with status ${response.status}`);
    return this.served(await response.json());
  }

  /**
   * For a page that fetches its recommendations itself: remembers the response's experiment
   * data (request id, baggage, trace), after which clicks, views and baggage work as with
   * `getRecommendations`. Returns the response.
   */
  served<T extends RecommendationResponse>(response: T): T {
    // Never thrown into the page: a response without experiment data is passed through, unremembered.
    if (isRecommendationResponse(response)) this.memory.rememberResponse(response);
    else logger.warn('served: not a recommendations response');
    return response;
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
    this.record(SPAN_CLICK, this.clickThrough, { contentId, position, requestId: experimentData.requestId }, experimentData, true);
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
    this.record(SPAN_VIEW, this.viewableImpressions, view, this.memory.experimentDataFor(view.requestId), false);
  }

  private record(name: string, counter: DeltaCounter, item: { contentId: string; position: number; requestId?: string | undefined }, data: ExperimentData, link: boolean): void {
    recordEvent(this.tracer, name, counter, item, data, data.baggage ?? this.memory.visitBaggage(), link);
  }

  /** Sends every pending span and metric now. Never rejects. */
  async flush(): Promise<void> {
    try {
      await Promise.all([this.tracerProvider.forceFlush(), this.metrics.flush()]);
    } catch (error) {
      logger.warn('flushing telemetry failed', error);
    }
  }

  /** Removes what the constructor added (listeners, click and view tracking, the fetch instrumentation) and shuts the providers down. Calling it twice is harmless. */
  shutdown(): Promise<void> {
    this.stopped ??= (async () => {
      if (this.pendingFlush !== undefined) clearTimeout(this.pendingFlush);
      for (const undo of this.undo.splice(0).reverse()) undo();
      await Promise.allSettled([this.tracerProvider.shutdown(), this.metrics.shutdown()]);
    })();
    return this.stopped;
  }
}

function serialized(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : decoder.decode(bytes);
}
