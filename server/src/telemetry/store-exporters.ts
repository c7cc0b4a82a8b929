/** Exporters that write the server's own telemetry straight into the store: no network hop. */
import { diag } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { AggregationTemporality, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { MetricPointRecord, SpanRecord } from '../core/telemetry-records.js';
import { metricsToRecords, spanToRecord } from './sdk-to-records.js';

/** Where exported records go: the telemetry store, or anything with the same two methods. */
export interface RecordSink {
  addSpans(spans: readonly SpanRecord[]): unknown;
  addMetricPoints(points: readonly MetricPointRecord[]): unknown;
}

const logger = diag.createComponentLogger({ namespace: 'variant-lens/store-exporters' });

function run(write: () => void, resultCallback: (result: ExportResult) => void): void {
  try {
    write();
    resultCallback({ code: ExportResultCode.SUCCESS });
  } catch (error) {
    logger.error('writing telemetry to the store failed', error);
    resultCallback({ code: ExportResultCode.FAILED, error: error as Error });
  }
}

export class StoreSpanExporter implements SpanExporter {
  constructor(private readonly sink: RecordSink) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    run(() => this.sink.addSpans(spans.map(spanToRecord)), resultCallback);
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** Delta temporality: each export holds only what changed, so idle streams write nothing. */
export class StoreMetricExporter implements PushMetricExporter {
  constructor(private readonly sink: RecordSink) {}

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    run(() => this.sink.addMetricPoints(metricsToRecords(metrics)), resultCallback);
  }

  selectAggregationTemporality(): AggregationTemporality {
    return AggregationTemporality.DELTA;
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
