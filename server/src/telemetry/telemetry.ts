/** The server's OpenTelemetry SDK: tracer and meter providers writing to the store in-process. */
import { context, metrics, propagation, trace, type Meter, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { AggregationTemporalityPreference, OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { ExperimentBaggageSpanProcessor } from '../node/index.js';
import { RecordJournal } from './record-journal.js';
import { DEFAULT_RECORD_QUEUE_CONFIG, RecordQueue, StoreMetricExporter, StoreSpanExporter, type OwnTelemetryStatus, type RecordSink } from './store-exporters.js';
import { SOURCE_ATTRIBUTE, SOURCE_SERVICE } from '../core/otlp-encode.js';

/** Configuration of the server's telemetry. */
export interface TelemetryConfig {
  /** `service.name` of the resource. */
  readonly serviceName: string;
  /** Where spans and metric points go: the store in-process, or another server over OTLP/HTTP. */
  readonly exportTo: { readonly sink: RecordSink } | { readonly otlpUrl: string; readonly headers: Record<string, string> };
  /** With true, nothing is registered and the API stays a no-op (`OTEL_SDK_DISABLED=true`). */
  readonly disabled: boolean;
  /** How often metrics are collected and written, in ms. */
  readonly metricIntervalMs: number;
  /** Upstream OTLP/HTTP collector that the server's own spans and metrics are also exported to. */
  readonly forwardUrl?: string;
  /** With the store in-process: the file that keeps what is queued for it across a crash (see `RecordJournal`). */
  readonly journalPath?: string;
}

/** What the rest of the server uses of the telemetry. */
export interface Telemetry {
  readonly tracer: Tracer;
  readonly meter: Meter;
  readonly enabled: boolean;
  /** Writes everything pending to the store. */
  flush(): Promise<void>;
  /** Flushes and unregisters the providers. */
  shutdown(): Promise<void>;
  /** With the store in-process: what is queued for it and what was lost (see `/healthz`). */
  ownTelemetry?(): OwnTelemetryStatus;
}

const SCOPE = 'variant-lens-server';
/** Spans are written in batches this often; short so a trace is readable within a second. */
const SPAN_BATCH_DELAY_MS = 200;
const SPAN_BATCH_SIZE = 512;
const SPAN_QUEUE_SIZE = 16_384;
/** On shutdown, how long a store that cannot commit is waited for before what is queued is counted as lost. */
const SHUTDOWN_FLUSH_MS = 5_000;

/** Starts and registers the SDK, or the no-op API when disabled. */
export function startTelemetry(config: TelemetryConfig): Telemetry {
  if (config.disabled) {
    return {
      tracer: trace.getTracer(SCOPE),
      meter: metrics.getMeter(SCOPE),
      enabled: false,
      flush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
  }
  // Marked as the endpoint marks what it forwards: a Collector downstream must know it is the service's own.
  const resource = resourceFromAttributes({ 'service.name': config.serviceName, [SOURCE_ATTRIBUTE]: SOURCE_SERVICE });
  const target = config.exportTo;
  let queue: RecordQueue | undefined;
  let spanExporter: SpanExporter;
  let metricExporter: PushMetricExporter;
  if ('sink' in target) {
    queue = new RecordQueue(target.sink, DEFAULT_RECORD_QUEUE_CONFIG, config.journalPath === undefined ? undefined : new RecordJournal(config.journalPath));
    spanExporter = new StoreSpanExporter(queue);
    metricExporter = new StoreMetricExporter(queue);
  } else {
    spanExporter = new OTLPTraceExporter({ url: `${target.otlpUrl}/v1/traces`, headers: target.headers });
    metricExporter = new OTLPMetricExporter({ url: `${target.otlpUrl}/v1/metrics`, headers: target.headers, temporalityPreference: AggregationTemporalityPreference.DELTA });
  }
  const tracerProvider = new BasicTracerProvider({
    resource,
    spanProcessors: [
      new ExperimentBaggageSpanProcessor(),
      new BatchSpanProcessor(spanExporter, {
        scheduledDelayMillis: SPAN_BATCH_DELAY_MS,
        maxExportBatchSize: SPAN_BATCH_SIZE,
        maxQueueSize: SPAN_QUEUE_SIZE,
      }),
      ...(config.forwardUrl === undefined
        ? []
        : [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${config.forwardUrl}/v1/traces` }), { maxQueueSize: SPAN_QUEUE_SIZE })]),
    ],
  });
  const meterProvider = new MeterProvider({
    resource,
    readers: [
      new PeriodicExportingMetricReader({
        exporter: metricExporter,
        exportIntervalMillis: config.metricIntervalMs,
      }),
      ...(config.forwardUrl === undefined
        ? []
        : [
            new PeriodicExportingMetricReader({
              exporter: new OTLPMetricExporter({ url: `${config.forwardUrl}/v1/metrics`, temporalityPreference: AggregationTemporalityPreference.DELTA }),
              exportIntervalMillis: config.metricIntervalMs,
            }),
          ]),
    ],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  return {
    tracer: tracerProvider.getTracer(SCOPE),
    meter: meterProvider.getMeter(SCOPE),
    enabled: true,
    async flush() {
      await tracerProvider.forceFlush();
      await meterProvider.forceFlush();
      await queue?.flush();
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
      await queue?.flush(SHUTDOWN_FLUSH_MS);
      queue?.close();
      trace.disable();
      metrics.disable();
      propagation.disable();
      context.disable();
    },
    ...(queue === undefined ? {} : { ownTelemetry: () => queue.status }),
  };
}
