import { Router, type RequestHandler } from 'express';
import type { Experiments } from '../node/index.js';
import type { Response } from 'express';
import { DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT, type SpanCursor, type TelemetryStore } from '../store/telemetry-store.js';
import { AnalysisRequestError, type ExperimentAnalysis } from '../services/analysis-service.js';
import { HttpError, parseLimit } from '../http/http-error.js';
import { AnalysisBusyError } from '../services/analysis-thread.js';
import type { TraceSource } from '../analysis/trace-source.js';

const TRACE_ID = /^[0-9a-f]{32}$/;
/** Most spans `/api/traces/:id` returns: a trace beyond this is cut (`truncated`, with its `count`). */
export const MAX_TRACE_SPANS = 10_000;
/** Spans read and written per turn of the event loop while a trace is sent: other requests get their turns in between. */
const TRACE_CHUNK_SPANS = 250;
/** Spans `/api/spans` looks at per page when filtering by name alone: a rare name costs a bounded read per page. */
export const SPAN_SCAN_BUDGET = 50_000;
const CURSOR = /^[A-Za-z0-9_-]{1,64}$/;

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

/**
 * The read side: experiments, stored telemetry and the analysis. Every route here is the
 * team's: `readAccess` lets through only requests with the read token.
 */
export function telemetryApi(deps: { store: TelemetryStore; traces: TraceSource; analysis: ExperimentAnalysis; experiments: Experiments }, readAccess: RequestHandler): Router {
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
      if (error instanceof AnalysisBusyError) throw new HttpError(503, error.message, { 'Retry-After': '1' });
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
