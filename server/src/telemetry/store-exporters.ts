/** Exporters that write the server's own telemetry straight into the store: no network hop. */
import { diag } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { AggregationTemporality, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { MetricPointRecord, SpanRecord } from '../core/telemetry-records.js';
import { metricsToRecords, spanToRecord } from './sdk-to-records.js';

/** Where exported records go: the store's ingest queue, settled once committed. */
export interface RecordSink {
  submit(spans: readonly SpanRecord[], points: readonly MetricPointRecord[]): Promise<unknown>;
}

const logger = diag.createComponentLogger({ namespace: 'variant-lens/store-exporters' });

function run(write: () => Promise<unknown>, resultCallback: (result: ExportResult) => void): void {
  let written: Promise<unknown>;
  try {
    written = write();
  } catch (error) {
    written = Promise.reject(error);
  }
  written.then(
    () => resultCallback({ code: ExportResultCode.SUCCESS }),
    (error: unknown) => {
      logger.error('writing telemetry to the store failed', error);
      resultCallback({ code: ExportResultCode.FAILED, error: error as Error });
    },
  );
}

export class StoreSpanExporter implements SpanExporter {
  constructor(private readonly sink: RecordSink) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    run(() => this.sink.submit(spans.map(spanToRecord), []), resultCallback);
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
    run(() => this.sink.submit([], metricsToRecords(metrics)), resultCallback);
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
