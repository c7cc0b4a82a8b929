import { diag } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { RETRYABLE_STATUS, retryAfterMs } from '../services/otlp-forwarder.js';
import { encodeReadableSpans } from './otlp-trace-protobuf.js';

/** Configuration of `ProtobufSpanExporter`. */
export interface ProtobufSpanExporterOptions {
  /** The OTLP/HTTP traces URL (`…/v1/traces`). */
  readonly url: string;
  /** Headers of every export, e.g. the collector's service token as `authorization`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** How long one export may take, retries included, in ms (default 10,000, the OpenTelemetry default). */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** Tries per export: the OpenTelemetry exporters' retry policy (5 attempts, backoff from 1 s by 1.5, jittered). */
const MAX_ATTEMPTS = 5;
const INITIAL_BACKOFF_MS = 1000;
const BACKOFF_MULTIPLIER = 1.5;
const MAX_BACKOFF_MS = 5000;
/** Connection errors worth retrying (the collector restarting, say). */
const RETRYABLE_ERRORS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);

type Outcome = { status: 'success' } | { status: 'retryable'; error: Error; retryAfterMs?: number } | { status: 'failure'; error: Error };

/**
 * The OTLP/HTTP protobuf span exporter of `startTelemetry`: the same bytes, headers and retry
 * policy as `@opentelemetry/exporter-trace-otlp-proto`, with the batch encoded in one pass
 * (`encodeReadableSpans`). Failed exports are reported to the batch processor, never thrown.
 */
export class ProtobufSpanExporter implements SpanExporter {
  private readonly url: URL;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly agent: HttpAgent;
  private readonly pending = new Set<Promise<void>>();
  private stopped = false;

  constructor(options: ProtobufSpanExporterOptions) {
    this.url = new URL(options.url);
    this.headers = { ...options.headers, 'content-type': 'application/x-protobuf' };
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.agent = this.url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    void this.sendEncoded(encodeReadableSpans(spans)).then(resultCallback);
  }

  /** Sends a request already encoded (`EncodedSpanBatch`); the result, never a throw. */
  sendEncoded(body: Uint8Array): Promise<ExportResult> {
    if (this.stopped) return Promise.resolve({ code: ExportResultCode.FAILED, error: new Error('Exporter has been shut down') });
    const sent = this.send(body).then((outcome): ExportResult => {
      if (outcome.status === 'success') return { code: ExportResultCode.SUCCESS };
      diag.warn(`variant-lens: span export to ${this.url.href} failed: ${outcome.error.message}`);
      return { code: ExportResultCode.FAILED, error: outcome.error };
    });
    const tracked = sent.then(() => undefined).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
    return sent;
  }

  /** Exports under way (sending or waiting to retry). */
  get inFlight(): number {
    return this.pending.size;
  }

  async forceFlush(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    await this.forceFlush();
    this.agent.destroy();
  }

  private async send(body: Uint8Array): Promise<Outcome> {
    const deadline = Date.now() + this.timeoutMs;
    let backoff = INITIAL_BACKOFF_MS;
    for (let attempt = 1; ; attempt += 1) {
      const outcome = await this.post(body, deadline - Date.now());
      if (outcome.status !== 'retryable' || attempt === MAX_ATTEMPTS) return outcome;
      const wait = outcome.retryAfterMs ?? Math.random() * backoff;
      if (Date.now() + wait >= deadline) return outcome;
      await new Promise((resolve) => setTimeout(resolve, wait).unref());
      backoff = Math.min(backoff * BACKOFF_MULTIPLIER, MAX_BACKOFF_MS);
    }
  }

  private post(body: Uint8Array, timeoutMs: number): Promise<Outcome> {
    return new Promise((resolve) => {
      const send = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(this.url, { method: 'POST', headers: { ...this.headers, 'content-length': String(body.length) }, agent: this.agent, timeout: timeoutMs }, (res: IncomingMessage) => {
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve({ status: 'success' });
          else if (RETRYABLE_STATUS.has(status)) resolve({ status: 'retryable', error: new Error(`HTTP ${status}`), retryAfterMs: retryAfterMs(res.headers['retry-after'] ?? null) });
          else resolve({ status: 'failure', error: new Error(`HTTP ${status}`) });
        });
        res.on('error', (error) => resolve({ status: 'retryable', error }));
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', (error: NodeJS.ErrnoException) => resolve({ status: RETRYABLE_ERRORS.has(error.code ?? '') ? 'retryable' : 'failure', error }));
      req.end(body);
    });
  }
}
