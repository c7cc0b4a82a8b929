import { context, propagation, SpanKind, trace, type Tracer } from '@opentelemetry/api';
import { failSpan } from './traced.js';

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

/** Calls the feature store over HTTP, propagating trace context and baggage. */
export class FeatureClient {
  constructor(
    private readonly tracer: Tracer,
    private readonly baseUrl: () => string,
    private readonly timeoutMs: number,
  ) {}

  async get(userId: string): Promise<UserFeatures> {
    const base = this.baseUrl();
    const url = `${base}/features/${encodeURIComponent(userId)}`;
    const span = this.tracer.startSpan('GET /features/:userId', {
      kind: SpanKind.CLIENT,
      attributes: { 'http.request.method': 'GET', 'url.full': `${base}/features/{userId}`, 'peer.service': 'feature-store' },
    });
    const headers: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), span), headers);
    try {
      if (base === '') throw new FeatureStoreUnavailableError('no feature store is running');
      const response = await fetch(url, { headers, signal: AbortSignal.timeout(this.timeoutMs) });
      span.setAttribute('http.response.status_code', response.status);
      if (!response.ok) throw new FeatureStoreUnavailableError(`feature store answered ${response.status}`);
      return (await response.json()) as UserFeatures;
    } catch (error) {
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
}
