import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { ExperimentBaggageSpanProcessor } from './experiment-baggage-span-processor.js';
import { SCOPE } from './experiment-middleware.js';
import { EncodingSpanProcessor } from './encoding-span-processor.js';
import { LeanTracer, useLeanTracer } from './lean-span.js';
import { ProtobufSpanExporter } from './protobuf-span-exporter.js';
import { ServedMetricsProducer, useServedMetrics } from './served-metrics.js';
import type { RunningTelemetry, TelemetryOptions } from './types.js';

const DEFAULT_METRIC_INTERVAL_MS = 5000;
/** Short, so a trace is readable on the collector within a second. */
const DEFAULT_SPAN_DELAY_MS = 500;

function collectorBase(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`Configuration: collectorUrl is invalid, expected an http(s) URL (actual: ${raw})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`Configuration: collectorUrl is invalid, expected an http(s) URL (actual: ${raw})`);
  return url.href.replace(/\/+$/, '');
}

/**
 * OpenTelemetry for an app that has none yet: tracer and meter providers, W3C trace-context
 * and baggage propagators, the async-hooks context manager, OTLP/HTTP protobuf exporters to
 * the collector with the service token (protobuf: a third of JSON's CPU per span and half its
 * bytes, measured in bench/RESULTS.md; spans encoded as they end by `EncodingSpanProcessor`,
 * the middleware's own two spans made by `LeanTracer`, impressions and latency aggregated per
 * assignment by `ServedMetricsProducer`), and the experiment baggage span processor — all
 * registered globally, so `experimentMiddleware` and `recordServed` find them. An app with
 * its own OpenTelemetry SDK adds `ExperimentBaggageSpanProcessor` to it instead.
 */
export function startTelemetry(options: TelemetryOptions): RunningTelemetry {
  const disabled = options.disabled ?? process.env.OTEL_SDK_DISABLED === 'true';
  if (disabled) {
    return { tracer: trace.getTracer(SCOPE), meter: metrics.getMeter(SCOPE), flush: () => Promise.resolve(), shutdown: () => Promise.resolve() };
  }
  const base = collectorBase(options.collectorUrl);
  const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
  const resource = resourceFromAttributes({ 'service.name': options.serviceName });
  const encoding = new EncodingSpanProcessor(new ProtobufSpanExporter({ url: `${base}/v1/traces`, headers }), { scheduledDelayMs: options.spanDelayMs ?? DEFAULT_SPAN_DELAY_MS });
  const tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [new ExperimentBaggageSpanProcessor(), encoding] });
  // The middleware's and recordServed's spans skip the SDK's span path: the provider is ours,
  // so what it would do for them is known (LeanTracer), and they are encoded in the same batches.
  useLeanTracer(tracerProvider.getTracer(SCOPE), new LeanTracer(resource, { name: SCOPE }, (span) => encoding.onEnd(span)));
  // Delta temporality: the served-metrics producer's data points are deltas, as the SDK's would be under it.
  const served = new ServedMetricsProducer({ name: SCOPE });
  const meterProvider = new MeterProvider({
    resource,
    readers: [
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics`, headers, temporalityPreference: AggregationTemporalityPreference.DELTA }),
        exportIntervalMillis: options.metricIntervalMs ?? DEFAULT_METRIC_INTERVAL_MS,
        metricProducers: [served],
      }),
    ],
  });
  const meter = meterProvider.getMeter(SCOPE);
  useServedMetrics(meterProvider, served);
  useServedMetrics(meter, served);
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  let stopped: Promise<void> | undefined;
  return {
    tracer: tracerProvider.getTracer(SCOPE),
    meter,
    async flush() {
      await tracerProvider.forceFlush();
      await meterProvider.forceFlush();
    },
    shutdown() {
      stopped ??= (async () => {
        await tracerProvider.shutdown();
        await meterProvider.shutdown();
        trace.disable();
        metrics.disable();
        propagation.disable();
        context.disable();
      })();
      return stopped;
    },
  };
}
