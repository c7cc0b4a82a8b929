/** Exporters that write the server's own telemetry straight into the store: no network hop. */
import { diag } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { AggregationTemporality, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { MetricPointRecord, SpanRecord } from '../core/telemetry-records.js';
import type { RecordJournal } from './record-journal.js';
import { metricsToRecords, spanToRecord } from './sdk-to-records.js';

/** Where exported records go: the store's ingest queue, settled once committed. */
export interface RecordSink {
  submit(spans: readonly SpanRecord[], points: readonly MetricPointRecord[]): Promise<unknown>;
}

/** What became of the server's own telemetry: shown by `/healthz`. */
export interface OwnTelemetryStatus {
  /** Spans and points waiting for a commit (retried while the store cannot commit). */
  readonly queued: number;
  /** Spans and points given up because the queue was full: counted, never silent. */
  readonly dropped: number;
  /** Commits that failed and were retried. */
  readonly failedCommits: number;
}

/** Configuration of the queue in front of the store. */
export interface RecordQueueConfig {
  /** Most spans and points held while the store cannot commit; beyond it new ones are dropped and counted. */
  readonly maxQueued: number;
  /** Most spans per commit. */
  readonly maxBatch: number;
  /** First wait after a failed commit, in ms; doubled after each failure in a row. */
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

/**
 * About 4 minutes of a busy server's own spans (a recommendation makes about five), at
 * about 1 KB each in memory: what a stalled or full store can cost before anything is dropped.
 */
export const DEFAULT_RECORD_QUEUE_CONFIG: RecordQueueConfig = { maxQueued: 200_000, maxBatch: 2_048, initialBackoffMs: 100, maxBackoffMs: 5_000 };

const logger = diag.createComponentLogger({ namespace: 'variant-lens/store-exporters' });

/**
 * Holds the server's own records until the store has committed them. The exporters hand
 * their records over and report success at once; a failed commit (the store's write lock
 * held elsewhere, a full disk) is retried with backoff, in order, instead of being lost:
 * the server's own telemetry is the trusted half of every result. Only beyond `maxQueued`
 * are records dropped, and then counted (`status`) and logged.
 */
export class RecordQueue {
  private spans: SpanRecord[] = [];
  private points: MetricPointRecord[] = [];
  private sending = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs = 0;
  private dropped = 0;
  private failedCommits = 0;
  private idle: (() => void)[] = [];
  /** Whether the journal could not be written (a full disk): then the queue is in memory only until it can. */
  private journalFailing = false;

  /**
   * With a `journal`, every record is written to it before `enqueue` returns, and what a
   * previous run left there is queued again first (see `RecordJournal`).
   */
  constructor(
    private readonly sink: RecordSink,
    private readonly config: RecordQueueConfig = DEFAULT_RECORD_QUEUE_CONFIG,
    private readonly journal?: RecordJournal,
  ) {
    const left = journal?.leftovers();
    if (left !== undefined && left.spans.length + left.points.length > 0) {
      logger.info(`storing ${left.spans.length} spans and ${left.points.length} points of the server's own telemetry left queued by the previous run`);
      this.spans.push(...left.spans);
      this.points.push(...left.points);
      this.pump();
    }
  }

  get status(): OwnTelemetryStatus {
    return { queued: this.spans.length + this.points.length, dropped: this.dropped, failedCommits: this.failedCommits };
  }

  enqueue(spans: readonly SpanRecord[], points: readonly MetricPointRecord[]): void {
    const room = Math.max(0, this.config.maxQueued - this.spans.length - this.points.length);
    const keptSpans = spans.slice(0, room);
    const keptPoints = points.slice(0, room - keptSpans.length);
    const lost = spans.length + points.length - keptSpans.length - keptPoints.length;
    if (lost > 0) {
      if (this.dropped === 0) logger.error(`the server's own telemetry queue is full (${this.config.maxQueued}): dropping and counting what does not fit; see /healthz`);
      this.dropped += lost;
    }
    if (this.journal !== undefined && keptSpans.length + keptPoints.length > 0) {
      try {
        this.journal.append(keptSpans, keptPoints);
        this.journalFailing = false;
      } catch (error) {
        if (!this.journalFailing) logger.error("writing the server's own telemetry journal failed; queued in memory only until it can be written", error);
        this.journalFailing = true;
      }
    }
    this.spans.push(...keptSpans);
    this.points.push(...keptPoints);
    this.pump();
  }

  /** Resolves once everything queued is committed, or after `timeoutMs` (what is left stays queued). */
  flush(timeoutMs = Infinity): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = Number.isFinite(timeoutMs) ? setTimeout(resolve, timeoutMs) : undefined;
      this.idle.push(() => {
        if (timer !== undefined) clearTimeout(timer);
        resolve();
      });
      // A retry waiting for its backoff is tried now: whoever flushes is waiting for it.
      if (this.retryTimer !== undefined) {
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        this.pump();
      }
    });
  }

  /** Stops retrying; what is still queued stays in the journal for the next start, or without one is counted as dropped. */
  close(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const left = this.spans.length + this.points.length;
    const kept = this.journal !== undefined && !this.journalFailing;
    if (left > 0) {
      logger.error(`${left} spans and points of the server's own telemetry could not be stored before shutdown${kept ? '; they stay in the journal and are stored at the next start' : ''}`);
    }
    if (!kept) this.dropped += left;
    this.journal?.close();
    this.spans = [];
    this.points = [];
    this.settleIdle();
  }

  private isIdle(): boolean {
    return !this.sending && this.spans.length === 0 && this.points.length === 0;
  }

  private settleIdle(): void {
    const waiting = this.idle;
    this.idle = [];
    for (const resolve of waiting) resolve();
  }

  private pump(): void {
    if (this.sending || this.retryTimer !== undefined) return;
    if (this.spans.length === 0 && this.points.length === 0) {
      // Everything handed over is committed: the journal starts again empty.
      if (this.journal !== undefined && !this.journalFailing) {
        try {
          this.journal.clear();
        } catch (error) {
          logger.warn("emptying the server's own telemetry journal failed; it is replayed (harmlessly) at the next start", error);
        }
      }
      this.settleIdle();
      return;
    }
    const spans = this.spans.splice(0, this.config.maxBatch);
    const points = this.points.splice(0, this.config.maxBatch);
    this.sending = true;
    let submitted: Promise<unknown>;
    try {
      submitted = this.sink.submit(spans, points);
    } catch (error) {
      submitted = Promise.reject(error);
    }
    submitted.then(
      () => {
        this.sending = false;
        this.backoffMs = 0;
        this.pump();
      },
      (error: unknown) => {
        this.sending = false;
        this.failedCommits += 1;
        // Back at the front, in order: retried before anything newer.
        this.spans.unshift(...spans);
        this.points.unshift(...points);
        this.backoffMs = Math.min(this.config.maxBackoffMs, Math.max(this.config.initialBackoffMs, this.backoffMs * 2));
        logger.warn(`storing the server's own telemetry failed; retrying in ${this.backoffMs} ms`, error);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.pump();
        }, this.backoffMs);
      },
    );
  }
}

export class StoreSpanExporter implements SpanExporter {
  constructor(private readonly queue: RecordQueue) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    // Queued, not yet committed: the queue retries, so the batch processor never holds on to
    // spans (its queue overflowed silently while exports waited on a stalled store).
    try {
      this.queue.enqueue(spans.map(spanToRecord), []);
      resultCallback({ code: ExportResultCode.SUCCESS });
    } catch (error) {
      resultCallback({ code: ExportResultCode.FAILED, error: error as Error });
    }
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }

  forceFlush(): Promise<void> {
    return this.queue.flush();
  }
}

/** Delta temporality: each export holds only what changed, so idle streams write nothing. */
export class StoreMetricExporter implements PushMetricExporter {
  constructor(private readonly queue: RecordQueue) {}

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    try {
      this.queue.enqueue([], metricsToRecords(metrics));
      resultCallback({ code: ExportResultCode.SUCCESS });
    } catch (error) {
      resultCallback({ code: ExportResultCode.FAILED, error: error as Error });
    }
  }

  selectAggregationTemporality(): AggregationTemporality {
    return AggregationTemporality.DELTA;
  }

  forceFlush(): Promise<void> {
    return this.queue.flush();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
