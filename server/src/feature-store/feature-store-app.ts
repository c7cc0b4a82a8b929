import { propagation, ROOT_CONTEXT, SpanKind, type Meter, type Tracer } from '@opentelemetry/api';
import express, { type Express } from 'express';
import type { ContentStore } from '../store/content-store.js';
import { errorHandler, HttpError, notFound } from '../http/http-error.js';
import { bearerToken, matchesSecret, secretDigest } from '../http/secret.js';
import { isValidVisitorId } from '../http/visitor.js';
import { LATENCY_BUCKETS_MS } from '../services/recommendation-service.js';
import { failSpan } from '../services/traced.js';

/** What the feature store needs. */
export interface FeatureStoreDeps {
  readonly content: ContentStore;
  readonly tracer: Tracer;
  readonly meter: Meter;
  /**
   * The baggage it may put on its spans: each key (running experiments' and the cohort) with
   * the values it can take. Anything else the caller sends is dropped.
   */
  readonly allowedBaggage: ReadonlyMap<string, ReadonlySet<string>>;
  /** The internal token: only the variant-lens server that holds it is answered. */
  readonly token: string;
  /** Added latency per request, to show what a slow dependency does to each variant. */
  readonly delayMs: number;
}

/** Recent clicks the features are computed from. */
const RECENT_CLICKS = 30;

/** Caller baggage entries read at most: the server sends a handful. */
const MAX_BAGGAGE_ENTRIES = 16;

/**
 * The feature store: `GET /features/:userId` answers a visitor's topic and tag affinities and
 * recent clicks, under one `feature_store.get_features` server span that carries
 * `features.count` and the experiment attributes of the propagated baggage. It answers only
 * the server holding the internal token, and even then keeps only baggage values that are
 * variants of a running experiment (or a cohort).
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
  const tokenDigest = secretDigest(deps.token);
  app.use('/features', (req, _res, next) => {
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) throw new HttpError(401, 'Authorization is missing: the feature store answers only the variant-lens server (Bearer <INTERNAL_TELEMETRY_TOKEN>)');
    if (!matchesSecret(token, tokenDigest)) throw new HttpError(401, 'Authorization names a token that is not the INTERNAL_TELEMETRY_TOKEN');
    next();
  });
  app.get('/features/:userId', (req, res, next) => {
    const userId = req.params.userId;
    if (!isValidVisitorId(userId)) throw new HttpError(400, 'userId is invalid, expected 1 to 128 printable characters');
    const extracted = propagation.extract(ROOT_CONTEXT, req.headers);
    const guarded = verifiedBaggage(propagation.getBaggage(extracted)?.getAllEntries() ?? [], deps.allowedBaggage);
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
        for (const key of deps.allowedBaggage.keys()) if (key.startsWith('experiment.')) metricAttributes[key] = guarded[key] ?? 'unknown';
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

/** The caller's baggage reduced to allowed keys with allowed values: a value no running experiment has is dropped, not believed. */
function verifiedBaggage(entries: readonly (readonly [string, { value: string }])[], allowed: ReadonlyMap<string, ReadonlySet<string>>): Record<string, string> {
  const verified: Record<string, string> = {};
  for (const [key, entry] of entries.slice(0, MAX_BAGGAGE_ENTRIES)) {
    if (allowed.get(key)?.has(entry.value) === true) verified[key] = entry.value;
  }
  return verified;
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
