import { Router, type Request } from 'express';
import type { RecommendationResponse } from '../../../../common/src/wire-types.js';
import { HttpError, parseLimit } from '../../collector.js';
import { getExperimentContext, recordServed } from '../../node/index.js';
import { articleUrl } from '../recommendations/article-url.js';
import type { ContentReader } from '../recommendations/content-reader.js';
import type { RecommendationService } from '../recommendations/recommendation-service.js';

/** A recommendation rail shows this many unless it asks otherwise. */
const DEFAULT_LIMIT = 8;
/** A topic page shows this many of the topic's newest articles unless it asks otherwise. */
const DEFAULT_TOPIC_LIMIT = 20;
/** Most articles in one recommendation list or topic page. */
const MAX_LIMIT = 50;
const CONTENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const TOPIC = /^[A-Za-z0-9_-]{1,64}$/;

/** The visitor the experiment middleware assigned, or a 400 naming the missing parameter. */
function requireVisitor(req: Request) {
  const visitor = getExperimentContext(req);
  if (visitor.visitorId === undefined) throw new HttpError(400, 'userId is required');
  return { ...visitor, visitorId: visitor.visitorId };
}

/**
 * The visitor-facing API: recommendations, assignments and content. Mounted behind
 * `experimentMiddleware` (variant-lens/node), which reads and assigns the visitor once.
 */
export function visitorApi(deps: { recommendations: RecommendationService; content: ContentReader }): Router {
  const router = Router();
  router.get('/recommendations', async (req, res) => {
    const visitor = requireVisitor(req);
    const limit = parseLimit(req.query.limit, DEFAULT_LIMIT, MAX_LIMIT);
    const ranked = await deps.recommendations.recommend(visitor.visitorId, limit, visitor);
    const served = recordServed(req, {
      count: ranked.recommendations.length,
      contentIds: ranked.recommendations.map((r) => r.contentId),
      attributes: ranked.attributes,
    });
    const body: RecommendationResponse = { ...served, recommendations: ranked.recommendations };
    res.json(body);
  });
  router.get('/assignments', (req, res) => {
    const visitor = requireVisitor(req);
    res.json({ userId: visitor.visitorId, experiments: visitor.experiments, reasons: visitor.reasons, baggage: visitor.baggage });
  });
  router.get('/topics', (_req, res) => {
    res.json({ topics: deps.content.topics() });
  });
  router.get('/content', (req, res) => {
    const topic = req.query.topic;
    if (topic === undefined) throw new HttpError(400, 'topic is required');
    if (typeof topic !== 'string' || !TOPIC.test(topic)) throw new HttpError(400, 'topic is invalid, expected 1 to 64 letters, digits, _ or -');
    const limit = parseLimit(req.query.limit, DEFAULT_TOPIC_LIMIT, MAX_LIMIT);
    const articles = deps.content.newestInTopic(topic, limit);
    if (articles.length === 0) throw new HttpError(404, `no topic named ${topic}`);
    res.json({
      topic,
      articles: articles.map((a) => ({ contentId: a.contentId, title: a.title, url: articleUrl(a.contentId), topic: a.topic, summary: a.summary, publishedAt: a.publishedAt, tags: a.tags })),
    });
  });
  router.get('/content/:id', (req, res) => {
    const id = req.params.id;
    if (!CONTENT_ID.test(id)) throw new HttpError(400, 'content id is invalid, expected letters, digits, _ or -');
    const article = deps.content.getArticle(id);
    if (article === undefined) throw new HttpError(404, `no article with id ${id}`);
    res.json(article);
  });
  return router;
}
