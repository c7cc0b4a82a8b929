import { Worker } from 'node:worker_threads';
import { compiledScript } from '../compiled-script.js';
import type { DecodeLimits } from '../core/otlp-json.js';
import type { MetricPointRecord, SpanRecord } from '../core/telemetry-records.js';
import type { CheckpointReport, IngestReply, IngestRequest } from './ingest-messages.js';
import { acquireWriteLock, createWriteLock, releaseWriteLock } from './write-lock.js';

/** Configuration of the ingest workers. */
export interface IngestPoolConfig {
  /** The SQLite file the workers write. */
  readonly path: string;
  /** Attribute keys indexed as experiment variants. */
  readonly experimentKeys: readonly string[];
  /** The experiments' variants as `key=variant`; untrusted metric points are rolled up only by these (absent: by any). */
  readonly knownVariants?: readonly string[];
  /** `service.name` of the recommendation server (see `TelemetryStoreOptions.requestService`). */
  readonly requestService?: string;
  /** Bounds on untrusted OTLP input. */
  readonly limits?: DecodeLimits;
  /** How many worker threads parse, decode and write. */
  readonly workers: number;
  /** Most bytes of OTLP bodies in flight; beyond it requests are refused as overload (503). */
  readonly maxInFlightBytes: number;
  /** Retention age in ms (0 or absent: none): OTLP older than it is refused as a partial success. */
  readonly maxAgeMs?: number;
}

/** What became of one OTLP body. */
export interface IngestOutcome {
  readonly rejected: number;
  readonly errors: readonly string[];
  /** With `forward`: the accepted items as OTLP/JSON marked with their source (absent when none was accepted). */
  readonly forward?: string;
}

/** How one OTLP body is ingested. */
export interface IngestOptions {
  /** Decode and reply, store nothing. */
  readonly parseOnly?: boolean;
  /** Sent with the internal token: the deployment's own telemetry. */
  readonly trusted?: boolean;
  /** Also return the accepted items as OTLP/JSON marked with their source (`IngestOutcome.forward`). */
  readonly forward?: boolean;
  /** Bytes the body took while it was received (`reserve`): its place in the queue, so it is not refused for room it already has. */
  readonly reserved?: number;
  /**
   * The body's memory is its own (no other Buffer shares its ArrayBuffer): it is transferred to
   * the worker as is, and the caller's Buffer is empty afterwards. Otherwise it is copied.
   */
  readonly owned?: boolean;
}

/** Too much in flight: answered with 503 and Retry-After, and the exporter retries. */
export class IngestOverloadedError extends Error {}
/** The body is not an OTLP export request (answered with 400). */
export class MalformedBodyError extends Error {}

interface Slot {
  readonly worker: Worker;
  inFlightBytes: number;
  inFlight: number;
}

interface Waiter {
  readonly slot: Slot;
  readonly bytes: number;
  resolve(outcome: IngestOutcome): void;
  reject(error: Error): void;
}

/**
 * Worker threads that parse, decode and commit OTLP bodies and the server's own records.
 * Each body is acknowledged only after its transaction commits; the workers share one
 * write lock, so decoding runs in parallel while commits take turns.
 */
export class IngestPool {
  private readonly slots: Slot[];
  private checkpointer: Worker;
  /** Why the last commit failed, until one succeeds again (a full disk, say). */
  private commitError: string | undefined;
  /** Why checkpoints fail, until one succeeds again. */
  private checkpointError: string | undefined;
  private readonly waiters = new Map<number, Waiter>();
  /** Called when the last waiter settles: what `drain` awaits instead of polling. */
  private onIdle: (() => void)[] = [];
  /** The workers' write lock, which other writers of the file (retention) take too. */
  private readonly lock: SharedArrayBuffer;
  private nextId = 1;
  /** Bytes of bodies still being received (see `reserve`). */
  private receivingBytes = 0;
  private failure: Error | undefined;
  private closing = false;

  constructor(private readonly config: IngestPoolConfig) {
    const lock = (this.lock = createWriteLock());
    const script = compiledScript('ingest/ingest-worker.js', 'the ingest worker');
    const workerData = (role: 'ingest' | 'checkpoint') => ({ path: config.path, experimentKeys: config.experimentKeys, knownVariants: config.knownVariants ?? null, requestService: config.requestService ?? null, limits: config.limits ?? null, maxAgeMs: config.maxAgeMs ?? 0, lock, role });
    const startCheckpointer = (): Worker => {
      const worker = new Worker(script, { workerData: workerData('checkpoint') });
      worker.on('message', (report: CheckpointReport) => {
        this.checkpointError = report.checkpoint ?? undefined;
        if (report.checkpoint !== null) console.error(`checkpointing the WAL failed (${report.checkpoint}); retrying`);
      });
      worker.on('error', (error) => console.error('the WAL checkpoint thread failed; starting another', error));
      // Without it the WAL grows for good: a thread that ends is replaced.
      worker.on('exit', () => {
        if (!this.closing) this.checkpointer = startCheckpointer();
      });
      return worker;
    };
    this.checkpointer = startCheckpointer();
    this.slots = Array.from({ length: Math.max(1, config.workers) }, () => {
      const worker = new Worker(script, { workerData: workerData('ingest') });
      const slot: Slot = { worker, inFlightBytes: 0, inFlight: 0 };
      worker.on('message', (reply: IngestReply) => this.settle(reply));
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) => {
        if (!this.closing) this.fail(new Error(`an ingest worker exited with code ${code}`));
      });
      return slot;
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    console.error('ingest worker failed', error);
    for (const waiter of this.waiters.values()) waiter.reject(error);
    this.waiters.clear();
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.waiters.size > 0) return;
    const idle = this.onIdle;
    this.onIdle = [];
    for (const resolve of idle) resolve();
  }

  private settle(reply: IngestReply): void {
    const waiter = this.waiters.get(reply.id);
    if (waiter === undefined) return;
    this.waiters.delete(reply.id);
    waiter.slot.inFlight -= 1;
    waiter.slot.inFlightBytes -= waiter.bytes;
    if ('malformed' in reply) waiter.reject(new MalformedBodyError(reply.malformed));
    else if ('error' in reply) {
      if (reply.commit === true) this.commitError = reply.error;
      waiter.reject(new Error(reply.error));
    } else {
      this.commitError = undefined;
      waiter.resolve({ rejected: reply.rejected, errors: reply.errors, forward: reply.forward });
    }
    this.notifyIdle();
  }

  private send(slot: Slot, request: IngestRequest, bytes: number, transfer: ArrayBuffer[] = []): Promise<IngestOutcome> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiters.set(request.id, { slot, bytes, resolve, reject });
      slot.inFlight += 1;
      slot.inFlightBytes += bytes;
      slot.worker.postMessage(request, transfer);
    });
  }

  /** The least busy worker. */
  private pick(): Slot {
    return this.slots.reduce((best, slot) => (slot.inFlightBytes < best.inFlightBytes ? slot : best));
  }

  /** Runs `write` on this thread while no worker commits (see `RetentionJob`). */
  async withWriteLock<T>(write: () => T): Promise<T> {
    await acquireWriteLock(this.lock);
    try {
      return write();
    } finally {
      releaseWriteLock(this.lock);
    }
  }

  /** True once a worker has failed: nothing more can be stored (see `/healthz`). */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /**
   * Why the store cannot be written now, for `/healthz`: a worker died, the last commit failed
   * (until one succeeds), or checkpoints fail (until one succeeds; the WAL only grows meanwhile).
   */
  get problem(): string | undefined {
    if (this.failure !== undefined) return 'the telemetry store cannot be written';
    if (this.commitError !== undefined) return `the telemetry store cannot be written: ${this.commitError}`;
    if (this.checkpointError !== undefined) return `the telemetry store cannot be written: checkpointing its WAL fails (${this.checkpointError})`;
    return undefined;
  }

  /** Whether a body of `bytes` may join what is in flight (one body always may, however large). */
  hasRoomFor(bytes: number): boolean {
    const inFlight = this.inFlightBytes;
    return inFlight === 0 || inFlight + bytes <= this.config.maxInFlightBytes;
  }

  /**
   * Takes `bytes` of a body being received (inflated) into the in-flight count, for a body
   * that holds `held` already; false when they do not fit (one body alone always fits).
   */
  reserve(bytes: number, held: number): boolean {
    const others = this.inFlightBytes - held;
    if (others > 0 && others + held + bytes > this.config.maxInFlightBytes) return false;
    this.receivingBytes += bytes;
    return true;
  }

  /** Gives back bytes taken by `reserve` for a body that will not be ingested. */
  release(bytes: number): void {
    this.receivingBytes -= bytes;
  }

  /** Bytes of OTLP bodies being received, decoded or waiting for a commit. */
  get inFlightBytes(): number {
    return this.receivingBytes + this.slots.reduce((sum, slot) => sum + slot.inFlightBytes, 0);
  }

  /**
   * Decodes and commits one OTLP body; resolves after the commit with what was rejected.
   * `reserved`: bytes the body took while it was received (`reserve`); they become its place
   * in the queue, so it is not refused for room it already has.
   */
  ingest(
    signal: 'traces' | 'metrics',
    encoding: 'json' | 'protobuf',
    body: Buffer,
    options: IngestOptions = {},
  ): Promise<IngestOutcome> {
    const reserved = options.reserved ?? 0;
    this.receivingBytes -= reserved;
    if (reserved === 0 && !this.hasRoomFor(body.length)) {
      return Promise.reject(new IngestOverloadedError(`${this.inFlightBytes} bytes of telemetry are waiting to be stored`));
    }
    const length = body.length;
    // Memory the worker can own: a Buffer that may share its memory with others is copied first.
    const own = options.owned === true && body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? body : new Uint8Array(body);
    return this.send(
      this.pick(),
      { kind: 'otlp', id: this.nextId++, signal, encoding, body: own, parseOnly: options.parseOnly ?? false, trusted: options.trusted ?? false, forward: options.forward ?? false },
      length,
      [own.buffer as ArrayBuffer],
    );
  }

  /** Commits the server's own records (trusted). */
  submit(spans: readonly SpanRecord[], points: readonly MetricPointRecord[]): Promise<IngestOutcome> {
    return this.send(this.pick(), { kind: 'records', id: this.nextId++, spans, points }, 0);
  }

  /** Resolves when everything sent so far is committed. */
  drain(): Promise<void> {
    if (this.waiters.size === 0 || this.failure !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.onIdle.push(resolve));
  }

  /** Commits what is pending, closes the workers' connections and stops them. */
  async close(): Promise<void> {
    await this.drain();
    await Promise.allSettled(this.slots.map((slot) => this.send(slot, { kind: 'close', id: this.nextId++ }, 0)));
    this.closing = true;
    await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
    await this.checkpointer.terminate();
  }
}
