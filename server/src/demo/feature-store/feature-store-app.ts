import { trace, type Meter, type Tracer } from '@opentelemetry/api';
import express, { type Express } from 'express';
import type { ContentStore } from '../catalogue/content-store.js';
import { bearerToken, errorHandler, HttpError, matchesSecret, notFound, secretDigest } from '../../collector.js';
import { experimentMetricAttributes, experimentMiddleware, getExperimentContext, LATENCY_BUCKETS_MS, type Experiments } from '../../node/index.js';

/** What the feature store needs. */
export interface FeatureStoreDeps {
  readonly content: ContentStore;
  readonly tracer: Tracer;
  readonly meter: Meter;
  /** The experiments: the feature store assigns the visitor itself and believes no caller's baggage. */
  readonly experiments: Experiments;
  /** The internal token: only the variant-lens server that holds it is answered. */
  readonly token: string;
  /** Added latency per request, to show what a slow dependency does to each variant. */
  readonly delayMs: number;
}

/** Recent clicks the features are computed from. */
const RECENT_CLICKS = 30;

/**
 * The feature store: `GET /features/:userId` answers a visitor's topic and tag affinities and
 * recent clicks, under one `feature_store.get_features` server span. It answers only the
 * server holding the internal token, and goes the same path as any service of a team:
 * `experimentMiddleware` from variant-lens/node, with the visitor in the path, assigns the
 * visitor and puts the experiment attributes on its spans; no caller's baggage is believed.
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
  // One span per request: the server span is the operation (the client's span already
  // names the HTTP route), which halves what this service exports and the server stores.
  const experiments = experimentMiddleware({
    experiments: deps.experiments,
    visitorId: (req) => {
      const userId = (req.params as { userId?: string }).userId;
      if (userId === undefined || userId === '') throw new HttpError(400, 'userId is required');
      return userId;
    },
    tracer: deps.tracer,
    meter: deps.meter,
    spanName: 'feature_store.get_features',
  });
  app.get('/features/:userId', experiments, (req, res, next) => {
    // Read, checked and assigned once, by the middleware.
    const userId = getExperimentContext(req).visitorId!;
    const started = performance.now();
    const respond = () => {
      try {
        const features = compute(deps.content, userId);
        const count = Object.keys(features.topicAffinity).length + Object.keys(features.tagAffinity).length + features.history.length;
        trace.getActiveSpan()?.setAttribute('features.count', count);
        latency.record(performance.now() - started, experimentMetricAttributes(req));
        res.json(features);
      } catch (error) {
        next(error);
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
