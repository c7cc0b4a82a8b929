import { context, diag, TraceFlags } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { EncodedSpanBatch } from './otlp-trace-protobuf.js';
import type { ProtobufSpanExporter } from './protobuf-span-exporter.js';

/** Configuration of `EncodingSpanProcessor`. */
export interface EncodingSpanProcessorOptions {
  /** How long a finished span may wait for its export, in ms. */
  readonly scheduledDelayMs: number;
  /** A batch this large (encoded bytes) is sent at once (default 1 MiB: the spans of about 850 quick-start requests). */
  readonly batchBytes?: number;
  /** Encoded bytes waiting beyond which spans are dropped, counted and warned about (default 16 MiB). */
  readonly maxPendingBytes?: number;
  /** Exports under way beyond which a batch is dropped rather than queued behind a collector that does not answer (default 16). */
  readonly maxInFlight?: number;
}

/**
 * An export costs about 0.4-0.8 ms of CPU on the benchmark machine whatever its size (32 KiB
 * to 1 MiB measured: the HTTP request and the socket write), so under load fewer, larger
 * exports cost less per span: at 256 KiB that was 2-3 µs per quick-start request, at 1 MiB
 * under one. Well below the collector's default body limit (`MAX_BODY_BYTES`, 5 MiB); at
 * lower rates `scheduledDelayMs` sends first.
 */
const DEFAULT_BATCH_BYTES = 1024 * 1024;
const DEFAULT_MAX_PENDING_BYTES = 16 * 1024 * 1024;
const DEFAULT_MAX_IN_FLIGHT = 16;

/**
 * The batch span processor of `startTelemetry`, encoding each sampled span to OTLP protobuf
 * as it ends instead of keeping the span until the batch is exported. The batch processor of
 * the SDK keeps up to a batch of spans alive for up to its delay: under load every young
 * garbage collection copies them, then promotes them; here a span is garbage as soon as it
 * ended. What is sent is the same: the spans of a batch, in the order they ended, as one
 * `ExportTraceServiceRequest` (the bytes of the OpenTelemetry serializer, tested), with the
 * service token, exports suppressed from tracing, retried as OTLP/HTTP says.
 */
export class EncodingSpanProcessor implements SpanProcessor {
  private batch = new EncodedSpanBatch();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private dropped = 0;
  private readonly batchBytes: number;
  private readonly maxPendingBytes: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly exporter: ProtobufSpanExporter,
    private readonly options: EncodingSpanProcessorOptions,
  ) {
    this.batchBytes = options.batchBytes ?? DEFAULT_BATCH_BYTES;
    this.maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    this.maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  }

  onStart(_span: Span): void {}

  onEnd(span: ReadableSpan): void {
    if (this.stopped || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.batch.bytes >= this.maxPendingBytes) {
      this.drop(1);
      return;
    }
    this.batch.add(span);
    if (this.batch.bytes >= this.batchBytes) void this.send();
    else this.timer ??= setTimeout(() => void this.send(), this.options.scheduledDelayMs).unref();
  }

  async forceFlush(): Promise<void> {
    await this.send();
    await this.exporter.forceFlush();
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    await this.forceFlush();
    this.stopped = true;
    if (this.dropped > 0) diag.warn(`variant-lens: ${this.dropped} spans were dropped`);
    await this.exporter.shutdown();
  }

  private send(): Promise<unknown> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const spans = this.batch.spans;
    const body = this.batch.take();
    if (body === undefined) return Promise.resolve();
    if (this.exporter.inFlight >= this.maxInFlight) {
      this.drop(spans);
      return Promise.resolve();
    }
    // The export's own HTTP request must not be traced (an HTTP instrumentation would make a span of it, and export that).
    return context.with(suppressTracing(context.active()), () => this.exporter.sendEncoded(body));
  }

  private drop(spans: number): void {
    if (this.dropped === 0) diag.warn('variant-lens: spans dropped: the collector does not take them as fast as they end (counted until shutdown)');
    this.dropped += spans;
  }
}
