import { context, propagation, SpanKind, trace, type Tracer } from '@opentelemetry/api';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { failSpan } from '../recommendations/traced.js';

/** What the feature store knows about a visitor. */
export interface UserFeatures {
  readonly userId: string;
  readonly topicAffinity: Readonly<Record<string, number>>;
  readonly tagAffinity: Readonly<Record<string, number>>;
  /** Clicked content ids, oldest first. */
  readonly history: readonly string[];
}

/** The feature store did not answer in time or answered badly: the caller degrades. */
export class FeatureStoreUnavailableError extends Error {}

/**
 * Failures in a row (no answer, a timeout, a 5xx) after which the store is not called for a
 * while: down or slow, it would otherwise cost every request a connection attempt or its whole
 * timeout before the request degrades anyway.
 */
export const FAILURES_BEFORE_PAUSE = 5;
/** How long calls pause before one is let through to see whether the store is back (ms). */
export const PAUSE_MS = 5_000;
const SERVER_ERROR = 500;

/** Calls the feature store over HTTP with the internal token, propagating trace context and the server's own baggage. */
export class FeatureClient {
  private failures = 0;
  /** While paused: when the next call is let through (ms since the epoch). */
  private pausedUntil = 0;

  constructor(
    private readonly tracer: Tracer,
    private readonly baseUrl: () => string,
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
    /** The internal token: the feature store answers only the server that holds it. */
    private readonly token = '',
  ) {}

  async get(userId: string): Promise<UserFeatures> {
    const base = this.baseUrl();
    const url = `${base}/features/${encodeURIComponent(userId)}`;
    const span = this.tracer.startSpan('GET /features/:userId', {
      kind: SpanKind.CLIENT,
      attributes: { 'http.request.method': 'GET', 'url.full': `${base}/features/{userId}`, 'peer.service': 'feature-store' },
    });
    const headers: Record<string, string> = this.token === '' ? {} : { authorization: `Bearer ${this.token}` };
    propagation.inject(trace.setSpan(context.active(), span), headers);
    if (this.failures >= FAILURES_BEFORE_PAUSE) {
      const now = this.now();
      if (now < this.pausedUntil) {
        const skipped = new FeatureStoreUnavailableError(
          `feature store not called: it failed ${this.failures} times in a row; the next call goes through in ${this.pausedUntil - now} ms`,
        );
        span.setAttribute('feature_store.paused', true);
        failSpan(span, skipped);
        span.end();
        throw skipped;
      }
      // This call is the trial; the others keep degrading until it has answered.
      this.pausedUntil = now + PAUSE_MS;
    }
    /** A 4xx is about this request, not the store's health. */
    let refusedThisRequest = false;
    try {
      if (base === '') throw new FeatureStoreUnavailableError('no feature store is running');
      const response = await getJson(url, headers, this.timeoutMs);
      span.setAttribute('http.response.status_code', response.status);
      if (!response.ok) {
        refusedThisRequest = response.status < SERVER_ERROR;
        throw new FeatureStoreUnavailableError(`feature store answered ${response.status}`);
      }
      const features = response.json() as UserFeatures;
      this.failures = 0;
      return features;
    } catch (error) {
      if (refusedThisRequest) this.failures = 0;
      else this.recordFailure();
      const unavailable =
        error instanceof FeatureStoreUnavailableError
          ? error
          : new FeatureStoreUnavailableError(
              (error as Error).name === 'TimeoutError' ? `feature store did not answer within ${this.timeoutMs} ms` : `feature store unreachable: ${(error as Error).message}`,
            );
      failSpan(span, unavailable);
      throw unavailable;
    } finally {
      span.end();
    }
  }

  private recordFailure(): void {
    this.failures += 1;
    if (this.failures >= FAILURES_BEFORE_PAUSE) this.pausedUntil = this.now() + PAUSE_MS;
  }
}

/** What `getJson` answered: the status, and the body parsed as JSON on demand (2xx only). */
interface JsonResponse {
  readonly status: number;
  readonly ok: boolean;
  json(): unknown;
}

/**
 * A GET through Node's HTTP client and its keep-alive agent, the whole exchange (connection,
 * answer, body) within `timeoutMs`, else it fails with a `TimeoutError`. `fetch` did the same
 * at two to three times the CPU per call (its web streams, `Headers`, abort signal and
 * promise chain): on the cold path every recommendation makes this call, on the main thread.
 */
function getJson(url: string, headers: Record<string, string>, timeoutMs: number): Promise<JsonResponse> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const request = send(url, { headers });
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    const timer = setTimeout(() => {
      const timeout = new Error(`no answer within ${timeoutMs} ms`);
      timeout.name = 'TimeoutError';
      fail(timeout);
      request.destroy(timeout);
    }, timeoutMs);
    request.on('error', fail);
    request.once('response', (response) => {
      const status = response.statusCode!;
      const ok = status >= 200 && status < 300;
      response.on('error', fail);
      if (!ok) {
        // The body is not read: drained, so the socket goes back to the agent.
        clearTimeout(timer);
        response.resume();
        resolve({ status, ok, json: () => undefined });
        return;
      }
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('end', () => {
        clearTimeout(timer);
        const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
        resolve({ status, ok, json: () => JSON.parse(text) as unknown });
      });
    });
    request.end();
  });
}
