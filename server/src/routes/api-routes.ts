import { Router, type Request, type RequestHandler } from 'express';
import { getExperimentContext, recordServed, type Experiments } from '../node/index.js';
import { articleUrl, type RecommendationService } from '../services/recommendation-service.js';
import type { Response } from 'express';
import { DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT, type SpanCursor, type TelemetryStore } from '../store/telemetry-store.js';
import { AnalysisRequestError, type AnalysisService } from '../services/analysis-service.js';
import { HttpError } from '../http/http-error.js';
import type { TraceSource } from '../analysis/trace-source.js';

const DEFAULT_LIMIT = 8;
/** A topic page shows this many of the topic's newest articles unless it asks otherwise. */
const DEFAULT_TOPIC_LIMIT = 20;
/** Most articles in one recommendation list or topic page. */
const MAX_LIMIT = 50;
const TRACE_ID = /^[0-9a-f]{32}$/;
const CONTENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const TOPIC = /^[A-Za-z0-9_-]{1,64}$/;
/** Most spans `/api/traces/:id` returns: a trace beyond this is cut (`truncated`, with its `count`). */
export const MAX_TRACE_SPANS = 10_000;
/** Spans read and written per turn of the event loop while a trace is sent: other requests get their turns in between. */
const TRACE_CHUNK_SPANS = 250;
/** Spans `/api/spans` looks at per page when filtering by name alone: a rare name costs a bounded read per page. */
export const SPAN_SCAN_BUDGET = 50_000;
const CURSOR = /^[A-Za-z0-9_-]{1,64}$/;

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

/** The `cursor` of `/api/spans`: the `nextCursor` a previous page answered. */
function parseCursor(raw: unknown): SpanCursor | undefined {
  if (raw === undefined) return undefined;
  const invalid = () => new HttpError(400, 'cursor is invalid, expected the nextCursor of a previous page');
  if (typeof raw !== 'string' || !CURSOR.test(raw)) throw invalid();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(value) || value.length !== 2 || !Number.isFinite(value[0]) || !Number.isSafeInteger(value[1])) throw invalid();
  return { startMs: value[0] as number, id: value[1] as number };
}

function formatCursor(cursor: SpanCursor | null): string | null {
  return cursor === null ? null : Buffer.from(JSON.stringify([cursor.startMs, cursor.id])).toString('base64url');
}

/** Resolves when the response can take more, or is gone; no listener outlives the wait. */
function drained(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

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
export function visitorApi(deps: { recommendations: RecommendationService }): Router {
  const router = Router();
  router.get('/recommendations', async (req, res) => {
    const visitor = requireVisitor(req);
    const limit = parseLimit(req.query.limit);
    const ranked = await deps.recommendations.recommend(visitor.visitorId, limit, visitor);
    const served = recordServed(req, {
      count: ranked.recommendations.length,
      contentIds: ranked.recommendations.map((r) => r.contentId),
      attributes: ranked.attributes,
    });
    res.json({ ...served, recommendations: ranked.recommendations });
  });
  router.get('/assignments', (req, res) => {
    const visitor = requireVisitor(req);
    res.json({ userId: visitor.visitorId, experiments: visitor.experiments, reasons: visitor.reasons, baggage: visitor.baggage });
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
  return router;
}

/**
 * The read side: experiments, stored telemetry and the analysis. Every route here is the
 * team's: `readAccess` lets through only requests with the read token.
 */
export function telemetryApi(deps: { store: TelemetryStore; traces: TraceSource; analysis: AnalysisService; experiments: Experiments }, readAccess: RequestHandler): Router {
  const router = Router();
  router.use(['/experiments', '/spans', '/traces', '/metrics'], readAccess);
  // Owners, descriptions, weights and winners are the team's, so the list is on the read side too.
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
  router.get('/traces/:traceId', async (req, res) => {
    const traceId = req.params.traceId.toLowerCase();
    if (!TRACE_ID.test(traceId)) throw new HttpError(400, 'traceId is invalid, expected 32 hex digits');
    const trace = await deps.traces.trace(traceId, MAX_TRACE_SPANS, () => req.socket.destroyed);
    if (req.socket.destroyed) return;
    if (trace === undefined) throw new HttpError(404, `no spans stored for trace ${traceId}`);
    const shown = Math.min(trace.count, MAX_TRACE_SPANS);
    res.type('json');
    res.write(`{"traceId":${JSON.stringify(traceId)},"count":${trace.count},"truncated":${trace.count > shown},"spans":[`);
    let first = true;
    try {
      for await (const spans of trace.chunks(TRACE_CHUNK_SPANS)) {
        if (res.destroyed) return;
        const chunk = spans.map((span) => JSON.stringify(span));
        if (chunk.length === 0) continue;
        const more = res.write(`${first ? '' : ','}${chunk.join(',')}`);
        first = false;
        if (!more) await drained(res);
      }
      res.end(']}');
    } catch (error) {
      // The status is sent: the reader sees a cut-off body, not a well-formed wrong one.
      console.error('reading a trace failed', error);
      res.destroy(error as Error);
    }
  });
  router.get('/spans', (req, res) => {
    const name = optionalString(req.query.name, 'name');
    const requestId = optionalString(req.query.requestId, 'requestId');
    const limit = parseQueryLimit(req.query.limit);
    const cursor = parseCursor(req.query.cursor);
    const page = deps.store.findSpansPage({ name, requestId, limit, cursor, scanBudget: SPAN_SCAN_BUDGET });
    res.json({ spans: page.spans, nextCursor: formatCursor(page.next) });
  });
  router.get('/metrics/:name', (req, res) => {
    const limit = parseQueryLimit(req.query.limit);
    res.json({ name: req.params.name, points: deps.store.findMetricPoints(req.params.name, limit) });
  });
  return router;
}
