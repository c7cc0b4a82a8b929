import { propagation, ROOT_CONTEXT, SpanKind, type Meter, type Tracer } from '@opentelemetry/api';
import express, { type Express } from 'express';
import { guardBaggage } from '../../../common/src/baggage-guard.js';
import type { ContentStore } from '../store/content-store.js';
import { errorHandler, HttpError, notFound } from '../http/http-error.js';
import { isValidVisitorId } from '../http/visitor.js';
import { LATENCY_BUCKETS_MS } from '../services/recommendation-service.js';
import { failSpan } from '../services/traced.js';

/** What the feature store needs. */
export interface FeatureStoreDeps {
  readonly content: ContentStore;
  readonly tracer: Tracer;
  readonly meter: Meter;
  /** Baggage keys it may read (the experiments' and the cohort). */
  readonly allowedBaggageKeys: ReadonlySet<string>;
  /** Added latency per request, to show what a slow dependency does to each variant. */
  readonly delayMs: number;
}

/** Recent clicks the features are computed from. */
const RECENT_CLICKS = 30;

/**
 * The feature store: `GET /features/:userId` answers a visitor's topic and tag affinities and
 * recent clicks, under one `feature_store.get_features` server span that carries the
 * experiment attributes from the propagated baggage and `features.count`.
 */
export function createFeatureStoreApp(deps: FeatureStoreDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  const latency = deps.meter.createHistogram('feature_store.latency', {
    description: 'Time to assemble a visitor\'s features',
    unit: 'ms',
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
  });
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/features/:userId', (req, res, next) => {
    const userId = req.params.userId;
    if (!isValidVisitorId(userId)) throw new HttpError(400, 'userId is invalid, expected 1 to 128 printable characters');
    const extracted = propagation.extract(ROOT_CONTEXT, req.headers);
    // The feature store reads baggage like the server does: allow-listed keys only.
    const inbound = propagation.getBaggage(extracted)?.getAllEntries() ?? [];
    const guarded = guardBaggage(inbound.map(([k, e]) => [k, e.value] as const), { allowedKeys: deps.allowedBaggageKeys }).entries;
    const parent = propagation.setBaggage(extracted, propagation.createBaggage(Object.fromEntries(Object.entries(guarded).map(([k, v]) => [k, { value: v }]))));
    // One span per request: the server span is the operation (the client's span already
    // names the HTTP route), which halves what this service exports and the server stores.
    const span = deps.tracer.startSpan(
      'feature_store.get_features',
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'GET', 'http.route': '/features/:userId' } },
      parent,
    );
    const started = performance.now();
    const respond = () => {
      try {
        const features = compute(deps.content, userId);
        const count = Object.keys(features.topicAffinity).length + Object.keys(features.tagAffinity).length + features.history.length;
        span.setAttribute('features.count', count);
        const metricAttributes: Record<string, string> = {};
        for (const key of deps.allowedBaggageKeys) if (key.startsWith('experiment.')) metricAttributes[key] = guarded[key] ?? 'unknown';
        latency.record(performance.now() - started, metricAttributes);
        res.json(features);
        span.setAttribute('http.response.status_code', 200);
      } catch (error) {
        failSpan(span, error);
        next(error);
      } finally {
        span.end();
      }
    };
    if (deps.delayMs > 0) setTimeout(respond, deps.delayMs);
    else respond();
  });
  app.use(notFound);
  app.use(errorHandler);
  return app;
}

/** Topic affinity blends stated preferences with what the clicks say; tags come from the clicks. */
function compute(content: ContentStore, userId: string) {
  const user = content.user(userId);
  if (user === undefined) return { userId, topicAffinity: {}, tagAffinity: {}, history: [] as string[] };
  const history = user.history.slice(-RECENT_CLICKS);
  const clicked = content.articlesByIds(history);
  const topicAffinity: Record<string, number> = { ...user.preferences };
  const tagAffinity: Record<string, number> = {};
  for (const article of clicked) {
    topicAffinity[article.topic] = (topicAffinity[article.topic] ?? 0) + 1 / clicked.length;
    for (const tag of article.tags) tagAffinity[tag] = (tagAffinity[tag] ?? 0) + 1 / clicked.length;
  }
  return { userId, topicAffinity, tagAffinity, history };
}
