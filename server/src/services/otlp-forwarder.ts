/** Forwards accepted OTLP batches to an upstream collector, with retries and a bounded queue. */

/** Configuration of the forwarder (`OTLP_FORWARD_URL`). */
export interface ForwarderConfig {
  /** Upstream base URL; batches go to `${url}/v1/traces` and `${url}/v1/metrics`. */
  readonly url: string;
  /**
   * Most bytes held, counting the batch being sent; beyond it the oldest waiting batches are
   * dropped (and counted), and a batch that cannot fit even then is refused (and counted).
   */
  readonly maxQueuedBytes: number;
  /** Attempts per batch before it is dropped. */
  readonly maxAttempts: number;
  /** First retry delay; doubled per attempt, with jitter, up to `maxBackoffMs`. */
  readonly initialBackoffMs: number;
  /** Longest wait before a retry, also when upstream asks for longer with `Retry-After`. */
  readonly maxBackoffMs: number;
  /** Per-request timeout. */
  readonly timeoutMs: number;
}

export type ForwardSignal = 'traces' | 'metrics';

interface Batch {
  readonly signal: ForwardSignal;
  readonly body: Buffer;
  readonly contentType: string;
  attempts: number;
}

/**
 * What the forwarder has done, for `/healthz` and tests. Every enqueued batch ends up in exactly
 * one of `forwarded`, `dropped` or `queued`.
 */
export interface ForwarderStats {
  /** Batches upstream accepted. */
  forwarded: number;
  /** Retries scheduled (a batch may be retried several times). */
  retried: number;
  /** Batches given up on: overflow, refused as too large or after close, final failure, retries exhausted. */
  dropped: number;
  /** Batches held now, including the one being sent or waiting to be retried. */
  queued: number;
  /** Bytes of the batches counted in `queued`; never above `maxQueuedBytes`. */
  queuedBytes: number;
}

/** OTLP/HTTP: these statuses are retryable; everything else is final. */
export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([429, 502, 503, 504]);

type ForwardResult = { status: 'success' } | { status: 'retryable'; retryAfterMs?: number } | { status: 'failure'; reason: string };

/** A `Retry-After` header (seconds or an HTTP date) in ms from now; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export class OtlpForwarder {
  /** Batches waiting their first attempt, oldest first; `current` is not among them. */
  private readonly queue: Batch[] = [];
  /**
   * The batch being sent or waiting to be retried. Held apart from `queue` so that overflow can
   * never drop it mid-send: that would count it as both dropped and (on success) forwarded, and
   * free its bytes twice, letting the queue grow past its bound.
   */
  private current: Batch | undefined;
  private sending = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  readonly stats: ForwarderStats = { forwarded: 0, retried: 0, dropped: 0, queued: 0, queuedBytes: 0 };

  constructor(private readonly config: ForwarderConfig) {}

  /** Queues a batch exactly as it was accepted (already decompressed). Never throws. */
  enqueue(signal: ForwardSignal, body: Buffer, contentType: string): void {
    if (this.closed) {
      // Nothing will send it any more; counted so the stats still account for every batch.
      this.stats.dropped += 1;
      return;
    }
    const room = this.config.maxQueuedBytes - (this.current?.body.length ?? 0);
    if (body.length > room) {
      // Even with every waiting batch dropped it would not fit beside the one being sent.
      this.stats.dropped += 1;
      console.warn(`OTLP forward to ${this.config.url} refused a ${body.length}-byte ${signal} batch: the queue holds at most ${this.config.maxQueuedBytes} bytes`);
      return;
    }
    // Full: drop the oldest waiting batches rather than refuse the new one. Telemetry loses
    // value with age; whoever reads upstream cares most about what is happening now. Not logged
    // per batch, as that would flood the log just when upstream is struggling; `dropped` counts it.
    while (this.stats.queuedBytes + body.length > this.config.maxQueuedBytes) {
      this.release(this.queue.shift()!);
      this.stats.dropped += 1;
    }
    this.queue.push({ signal, body, contentType, attempts: 0 });
    this.stats.queued += 1;
    this.stats.queuedBytes += body.length;
    this.kick(0);
  }

  private release(batch: Batch): void {
    this.stats.queued -= 1;
    this.stats.queuedBytes -= batch.body.length;
  }

  private kick(delayMs: number): void {
    if (this.sending || this.timer !== undefined || this.closed) return;
    if (this.current === undefined && this.queue.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sendNext();
    }, delayMs);
    this.timer.unref();
  }

  private async send(batch: Batch): Promise<ForwardResult> {
    try {
      const response = await fetch(`${this.config.url}/v1/${batch.signal}`, {
        method: 'POST',
        headers: { 'content-type': batch.contentType },
        body: new Uint8Array(batch.body),
        signal: AbortSignal.timeout(this.config.timeoutMs),
      });
      await response.arrayBuffer();
      if (response.ok) return { status: 'success' };
      if (RETRYABLE_STATUS.has(response.status)) return { status: 'retryable', retryAfterMs: retryAfterMs(response.headers.get('retry-after')) };
      return { status: 'failure', reason: `upstream answered ${response.status}` };
    } catch {
      // Network errors and timeouts are worth another try.
      return { status: 'retryable' };
    }
  }

  private async sendNext(): Promise<void> {
    if (this.sending) return;
    this.current ??= this.queue.shift();
    const batch = this.current;
    if (batch === undefined) return;
    this.sending = true;
    const result = await this.send(batch);
    this.sending = false;
    batch.attempts += 1;
    let delay = 0;
    if (result.status === 'retryable' && batch.attempts < this.config.maxAttempts) {
      this.stats.retried += 1;
      const backoff = Math.min(this.config.maxBackoffMs, this.config.initialBackoffMs * 2 ** (batch.attempts - 1));
      // Retry-After is honoured only up to the cap: the queue is single-flight, so one answer
      // asking for an hour would otherwise stall every batch behind it for that hour.
      delay = Math.min(this.config.maxBackoffMs, result.retryAfterMs ?? backoff * (0.5 + Math.random() / 2));
    } else {
      this.current = undefined;
      this.release(batch);
      if (result.status === 'success') this.stats.forwarded += 1;
      else {
        this.stats.dropped += 1;
        console.warn(`OTLP forward to ${this.config.url} gave up on a ${batch.signal} batch: ${result.status === 'failure' ? result.reason : 'retries exhausted'}`);
      }
    }
    this.kick(delay);
  }

  /** Waits (up to `timeoutMs`) for the queue to drain, then stops. */
  async close(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.stats.queued > 0 && Date.now() < deadline) {
      if (!this.sending && this.timer === undefined) this.kick(0);
      await new Promise((r) => setTimeout(r, 20));
    }
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}
