import { Router } from 'express';
import type { ExperimentService } from '../services/experiment-service.js';
import { articleUrl, type RecommendationService } from '../services/recommendation-service.js';
import { DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT, type TelemetryStore } from '../store/telemetry-store.js';
import { AnalysisRequestError, type AnalysisService } from '../services/analysis-service.js';
import { HttpError } from '../http/http-error.js';
import { requestLocals } from '../http/request-context.js';
import { forcedVariants, requireVisitorId } from '../http/visitor.js';

const DEFAULT_LIMIT = 8;
/** A topic page shows this many of the topic's newest articles unless it asks otherwise. */
const DEFAULT_TOPIC_LIMIT = 20;
/** Most articles in one recommendation list or topic page. */
const MAX_LIMIT = 50;
const TRACE_ID = /^[0-9a-f]{32}$/;
const CONTENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const TOPIC = /^[A-Za-z0-9_-]{1,64}$/;

function parseLimit(raw: unknown, defaultLimit = DEFAULT_LIMIT, maxLimit = MAX_LIMIT): number {
  if (raw === undefined) return defaultLimit;
  const limit = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) {
    throw new HttpError(400, `limit is invalid, expected an integer from 1 to ${maxLimit}`);
  }
  return limit;
}

/** `limit` of the stored-telemetry reads: the store's own default and maximum. */
function parseQueryLimit(raw: unknown): number {
  return parseLimit(raw, DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT);
}

function optionalString(raw: unknown, name: string): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || raw.length > 256) throw new HttpError(400, `${name} is invalid, expected a string`);
  return raw;
}

/** The visitor-facing API: recommendations, assignments and content. */
export function visitorApi(deps: { experiments: ExperimentService; recommendations: RecommendationService }): Router {
  const router = Router();
  router.get('/recommendations', async (req, res) => {
    const userId = requireVisitorId(req);
    const limit = parseLimit(req.query.limit);
    const assignment = requestLocals(res).experiment.assignment ?? deps.experiments.assign(userId, forcedVariants(req));
    res.json(await deps.recommendations.recommend(userId, limit, assignment));
  });
  router.get('/assignments', (req, res) => {
    const userId = requireVisitorId(req);
    const assignment = deps.experiments.assign(userId, forcedVariants(req));
    res.json({ userId, experiments: assignment.experiments, reasons: assignment.reasons, baggage: assignment.baggage });
  });
  router.get('/topics', (_req, res) => {
    res.json({ topics: deps.recommendations.topics() });
  });
  router.get('/content', (req, res) => {
    const topic = req.query.topic;
    if (topic === undefined) throw new HttpError(400, 'topic is required');
    if (typeof topic !== 'string' || !TOPIC.test(topic)) throw new HttpError(400, 'topic is invalid, expected 1 to 64 letters, digits, _ or -');
    const limit = parseLimit(req.query.limit, DEFAULT_TOPIC_LIMIT);
    const articles = deps.recommendations.newestInTopic(topic, limit);
    if (articles.length === 0) throw new HttpError(404, `no topic named ${topic}`);
    res.json({
      topic,
      articles: articles.map((a) => ({ contentId: a.contentId, title: a.title, url: articleUrl(a.contentId), topic: a.topic, summary: a.summary, publishedAt: a.publishedAt, tags: a.tags })),
    });
  });
  router.get('/content/:id', (req, res) => {
    const id = req.params.id;
    if (!CONTENT_ID.test(id)) throw new HttpError(400, 'content id is invalid, expected letters, digits, _ or -');
    const article = deps.recommendations.getArticle(id);
    if (article === undefined) throw new HttpError(404, `no article with id ${id}`);
    res.json(article);
  });
  router.get('/experiments', (_req, res) => {
    res.json({
      experiments: deps.experiments.experiments.map((e) => ({
        key: e.key,
        baggageKey: e.baggageKey,
        status: e.status,
        winner: e.winner ?? null,
        variants: e.variants,
        weights: e.weights ?? e.variants.map(() => 1),
        allocation: e.allocation,
        layer: e.layer ?? null,
        description: e.description,
        owner: e.owner,
        startDate: e.startDate ?? null,
      })),
    });
  });
  return router;
}

/** Read access to stored telemetry and the experiment analysis. */
export function telemetryApi(deps: { store: TelemetryStore; analysis: AnalysisService }): Router {
  const router = Router();
  router.get('/experiments/:key/results', async (req, res) => {
    const experiment = deps.analysis.experiment(req.params.key);
    if (experiment === undefined) throw new HttpError(404, `no experiment with key ${req.params.key}`);
    try {
      res.json(
        await deps.analysis.results(experiment, {
          from: optionalString(req.query.from, 'from'),
          to: optionalString(req.query.to, 'to'),
          cohort: optionalString(req.query.cohort, 'cohort'),
        }),
      );
    } catch (error) {
      if (error instanceof AnalysisRequestError) throw new HttpError(400, error.message);
      throw error;
    }
  });
  router.get('/traces/:traceId', (req, res) => {
    const traceId = req.params.traceId.toLowerCase();
    if (!TRACE_ID.test(traceId)) throw new HttpError(400, 'traceId is invalid, expected 32 hex digits');
    const spans = deps.store.getTrace(traceId);
    if (spans.length === 0) throw new HttpError(404, `no spans stored for trace ${traceId}`);
    res.json({ traceId, spans });
  });
  router.get('/spans', (req, res) => {
    const name = optionalString(req.query.name, 'name');
    const requestId = optionalString(req.query.requestId, 'requestId');
    const limit = parseQueryLimit(req.query.limit);
    res.json({ spans: deps.store.findSpans({ name, requestId, limit }) });
  });
  router.get('/metrics/:name', (req, res) => {
    const limit = parseQueryLimit(req.query.limit);
    res.json({ name: req.params.name, points: deps.store.findMetricPoints(req.params.name, limit) });
  });
  return router;
}
