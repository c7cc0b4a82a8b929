/** Forwards accepted OTLP batches to an upstream collector, with retries and a bounded queue. */

/** Configuration of the forwarder (`OTLP_FORWARD_URL`). */
export interface ForwarderConfig {
  /** Upstream base URL; batches go to `${url}/v1/traces` and `${url}/v1/metrics`. */
  readonly url: string;
  /** Most bytes waiting to be forwarded; the oldest batches are dropped (and counted) beyond it. */
  readonly maxQueuedBytes: number;
  /** Attempts per batch before it is dropped. */
  readonly maxAttempts: number;
  /** First retry delay; doubled per attempt, with jitter, up to `maxBackoffMs`. */
  readonly initialBackoffMs: number;
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

/** What the forwarder has done, for `/healthz` and tests. */
export interface ForwarderStats {
  forwarded: number;
  retried: number;
  dropped: number;
  queued: number;
}

/** OTLP/HTTP: these statuses are retryable; everything else is final. */
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

type ForwardResult = { status: 'success' } | { status: 'retryable'; retryAfterMs?: number } | { status: 'failure'; reason: string };

function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export class OtlpForwarder {
  private readonly queue: Batch[] = [];
  private queuedBytes = 0;
  private sending = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  readonly stats: ForwarderStats = { forwarded: 0, retried: 0, dropped: 0, queued: 0 };

  constructor(private readonly config: ForwarderConfig) {}

  /** Queues a batch exactly as it was accepted (already decompressed). Never throws. */
  enqueue(signal: ForwardSignal, body: Buffer, contentType: string): void {
    if (this.closed) return;
    this.queue.push({ signal, body, contentType, attempts: 0 });
    this.queuedBytes += body.length;
    while (this.queuedBytes > this.config.maxQueuedBytes && this.queue.length > 1) {
      const oldest = this.queue.shift()!;
      this.queuedBytes -= oldest.body.length;
      this.stats.dropped += 1;
    }
    this.stats.queued = this.queue.length;
    this.kick(0);
  }

  private kick(delayMs: number): void {
    if (this.sending || this.timer !== undefined || this.queue.length === 0 || this.closed) return;
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
    const batch = this.queue[0];
    if (batch === undefined || this.sending) return;
    this.sending = true;
    const result = await this.send(batch);
    this.sending = false;
    batch.attempts += 1;
    let delay = 0;
    if (result.status === 'retryable' && batch.attempts < this.config.maxAttempts) {
      this.stats.retried += 1;
      const backoff = Math.min(this.config.maxBackoffMs, this.config.initialBackoffMs * 2 ** (batch.attempts - 1));
      delay = result.retryAfterMs ?? backoff * (0.5 + Math.random() / 2);
    } else {
      this.dequeue(batch);
      if (result.status === 'success') this.stats.forwarded += 1;
      else {
        this.stats.dropped += 1;
        console.warn(`OTLP forward to ${this.config.url} gave up on a ${batch.signal} batch: ${result.status === 'failure' ? result.reason : 'retries exhausted'}`);
      }
    }
    this.kick(delay);
  }

  private dequeue(batch: Batch): void {
    const index = this.queue.indexOf(batch);
    if (index >= 0) this.queue.splice(index, 1);
    this.queuedBytes -= batch.body.length;
    this.stats.queued = this.queue.length;
  }

  /** Waits (up to `timeoutMs`) for the queue to drain, then stops. */
  async close(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.queue.length > 0 || this.sending) && Date.now() < deadline) {
      if (!this.sending && this.timer === undefined) this.kick(0);
      await new Promise((r) => setTimeout(r, 20));
    }
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}
