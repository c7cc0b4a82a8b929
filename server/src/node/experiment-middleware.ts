import {
  context,
  metrics,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type BaggageEntry,
  type Span,
} from '@opentelemetry/api';
import { getRPCMetadata, hrTimeToMilliseconds } from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Request, RequestHandler } from 'express';
import { ATTR_SESSION_ID } from '../../../common/src/semconv.js';
import { isSessionId } from '../../../common/src/session-id.js';
import { isValidVisitorId, MAX_VISITOR_ID_LENGTH } from '../../../common/src/visitor-id.js';
import { ContextLayer, leanTracerOf, SPAN_KEY } from './lean-span.js';
import { releaseRequest, requestState, setRequestState, STATE_KEY, type RequestState } from './request-state.js';
import { instrumentRecorder, servedMetricsOf } from './served-metrics.js';
import type { ExperimentContext, ExperimentMiddlewareOptions, Experiments } from './types.js';
import { TelemetryShapes, VisitorCache, type VisitorDecision } from './visitor-decisions.js';

/** Instrumentation scope of the spans and metrics of `variant-lens/node`. */
export const SCOPE = 'variant-lens';
/** On the server span of a request without a visitor: the inbound claims that named real variants, `key=value`. */
export const UNVERIFIED_BAGGAGE_ATTRIBUTE = 'variant_lens.unverified.baggage';
/**
 * Visitors whose experiment context is kept between their requests (`visitorCacheSize`):
 * about 0.5 KB each, so the default holds a busy hour's returning visitors in a few MB.
 */
export const DEFAULT_VISITOR_CACHE_SIZE = 10_000;
const SERVER_ERROR = 500;
const BAD_REQUEST = 400;

/** A 400 in the Express convention (`status`, `expose`): any error handler answers it as such. */
function badRequest(message: string): Error {
  return Object.assign(new Error(message), { status: BAD_REQUEST, statusCode: BAD_REQUEST, expose: true });
}

/**
 * The server side of an experiment, for every request it is mounted on: extracts W3C trace
 * context and baggage, guards the inbound baggage (allow-list, sizes), assigns the visitor
 * the injected `visitorId` function names (the server's assignment wins; mismatches are
 * recorded), and runs the rest of the request in a context whose baggage is the trusted
 * one, so outgoing calls propagate it and every span carries the variant (with
 * `ExperimentBaggageSpanProcessor`). A request that names no visitor has nothing believed:
 * its spans carry no experiment attributes, only `variant_lens.unverified`.
 *
 * With the stock `@opentelemetry/instrumentation-http` it annotates the SERVER span that
 * instrumentation opened; without one it opens its own lean SERVER span.
 */
export function experimentMiddleware(options: ExperimentMiddlewareOptions): RequestHandler {
  const experiments = options.experiments;
  const given = options.tracer ?? trace.getTracer(SCOPE);
  // startTelemetry's tracer stands for a lean one that makes the same spans for less (lean-span.ts).
  const tracer = leanTracerOf(given) ?? given;
  const meter = options.meter ?? metrics.getMeter(SCOPE);
  const mismatches = meter.createCounter('experiment.baggage_mismatch', {
    description: 'Requests whose inbound baggage disagreed with the server-side assignment',
  });
  // startTelemetry's meter aggregates impressions and latency per assignment itself; any other meter gets instruments.
  const served = servedMetricsOf(options.meter ?? metrics.getMeterProvider()) ?? instrumentRecorder(meter);
  const shapes = new TelemetryShapes(experiments, ROOT_CONTEXT);
  const visitors = new VisitorCache(options.visitorCacheSize ?? DEFAULT_VISITOR_CACHE_SIZE);
  return (req, res, next) => {
    const startedAt = performance.now();
    let visitorId: string | undefined;
    let forced: Readonly<Record<string, string>>;
    try {
      visitorId = options.visitorId?.(req);
      forced = options.forcedVariants?.(req) ?? NOTHING_FORCED;
    } catch (error) {
      next(error);
      return;
    }
    if (visitorId !== undefined && !isValidVisitorId(visitorId)) {
      next(badRequest(`visitor id is invalid, expected 1 to ${MAX_VISITOR_ID_LENGTH} printable characters`));
      return;
    }
    const active = context.active();
    const activeSpan = trace.getSpan(active);
    // The HTTP instrumentation's SERVER span: the one it left in the context's RPC metadata (with
    // Express's instrumentation the active span is that of the middleware, ended at next()), else
    // a span of this process in the active context.
    const existing = getRPCMetadata(active)?.span ?? activeSpan;
    const annotate = existing !== undefined && !existing.spanContext().isRemote;
    // The request's one anchor to the wall clock, for its SERVER span and its request span:
    // each span anchoring a performance.now() by its own whole-millisecond Date.now() could put
    // a child a millisecond outside its parent. The instrumentation's SERVER span's anchor when
    // it can be read, so that the request span lies within that span too.
    const startMs = (annotate ? anchorOf(existing, startedAt) : undefined) ?? startedAt + (Date.now() - performance.now());
    const parent = annotate ? (existing === activeSpan ? active : trace.setSpan(active, existing)) : propagation.extract(ROOT_CONTEXT, req.headers);
    const inbound = propagation.getBaggage(parent)?.getAllEntries();
    let decision: VisitorDecision | undefined;
    let unverifiedClaims: readonly string[] = NO_CLAIMS;
    const forcing = experiments.forcedVariantQueryAllowed && hasKeys(forced);
    if (visitorId !== undefined && !forcing) {
      decision = visitors.get(visitorId);
      if (decision === undefined) {
        const experimentContext = visitorContext(experiments, visitorId, NO_ENTRIES, NOTHING_FORCED).experimentContext;
        decision = { experimentContext, shape: shapes.of(experimentContext) };
        visitors.set(visitorId, decision);
      }
      // Inbound baggage that agrees with the assignment (or names keys nobody reads) changes
      // nothing; anything else goes through the guard below, which records the mismatch.
      if (inbound !== undefined && !agrees(experiments, decision.experimentContext.baggage, inbound)) decision = undefined;
    }
    if (decision === undefined) {
      const decided = visitorContext(experiments, visitorId, (inbound ?? NO_BAGGAGE_ENTRIES).map(([key, entry]) => [key, entry.value] as const), forced);
      decision = { experimentContext: decided.experimentContext, shape: shapes.of(decided.experimentContext) };
      unverifiedClaims = decided.unverifiedClaims;
    }
    const { experimentContext, shape } = decision;
    const trusted = shapes.trustedContext(shape, parent);
    let span: Span;
    if (annotate) {
      span = existing;
      span.setAttributes(shape.spanAttributes);
    } else {
      const url = req.originalUrl;
      const query = url.indexOf('?');
      // Attributes set after start: startSpan would validate and copy them twice before the span copies them.
      // It starts when the middleware saw the request, so that it covers the assignment.
      span = tracer.startSpan(options.spanName ?? `${req.method} ${req.baseUrl}`, { kind: SpanKind.SERVER, startTime: startMs }, trusted);
      span.setAttribute('http.request.method', req.method);
      span.setAttribute('url.path', query === -1 ? url : url.slice(0, query));
    }
    if (unverifiedClaims.length > 0) span.setAttribute(UNVERIFIED_BAGGAGE_ATTRIBUTE, [...unverifiedClaims]);
    if (experimentContext.mismatchedKeys.length > 0) {
      span.setAttribute('experiment.baggage_mismatch', true);
      span.setAttribute('experiment.baggage_mismatch.keys', [...experimentContext.mismatchedKeys]);
      for (const key of experimentContext.mismatchedKeys) mismatches.add(1, { ...shape.metricAttributes, 'baggage.key': key });
    }
    const otelContext = annotate ? trusted : new ContextLayer(trusted, SPAN_KEY, span);
    const state: RequestState = { request: req, experimentContext, shape, otelContext, startedAt, startMs, tracer, served, sessionId: sessionOf(inbound) };
    setRequestState(req, state);
    // The state rides in the handler's context too, where it is read first (request-state.ts);
    // it lets go of the request when the response closes, so that an async resource the handler
    // started (a timer, a pool's socket) and that keeps the context does not keep the request.
    if (annotate) res.on('close', () => releaseRequest(state));
    else endOnClose(req, res, span, options.spanName === undefined, state);
    context.with(new ContextLayer(otelContext, STATE_KEY, state), next);
  };
}

const NOTHING_FORCED: Readonly<Record<string, string>> = Object.freeze({});
const NO_CLAIMS: readonly string[] = Object.freeze([]);
const NO_ENTRIES: readonly (readonly [string, string])[] = Object.freeze([]);
const NO_BAGGAGE_ENTRIES: readonly [string, BaggageEntry][] = Object.freeze([]) as readonly [string, BaggageEntry][];

/**
 * `startedAt` on the clock of the SDK's `span`, which measures its times from its start
 * (`startTime`, at `_performanceStartTime` on the monotonic clock: the SDK 2.x span's own
 * fields) unless it was given a start; undefined for any other span, which gets an anchor of
 * its own.
 */
function anchorOf(span: Span, startedAt: number): number | undefined {
  const sdk = span as Partial<ReadableSpan> & { _performanceStartTime?: unknown; _startTimeProvided?: unknown };
  const start = sdk.startTime;
  const monotonicStart = sdk._performanceStartTime;
  if (!Array.isArray(start) || typeof monotonicStart !== 'number' || sdk._startTimeProvided !== false) return undefined;
  return hrTimeToMilliseconds(start) + Math.max(0, startedAt - monotonicStart);
}

/** The visit's `session.id` the browser SDK names in baggage, when it has a session id's shape. */
function sessionOf(inbound: readonly [string, BaggageEntry][] | undefined): string | undefined {
  if (inbound === undefined) return undefined;
  for (const [key, entry] of inbound) if (key === ATTR_SESSION_ID) return isSessionId(entry.value) ? entry.value : undefined;
  return undefined;
}

function hasKeys(record: Readonly<Record<string, string>>): boolean {
  for (const key in record) if (Object.hasOwn(record, key)) return true;
  return false;
}

/** True when every allow-listed inbound entry carries the server's own value: nothing to guard against or record. */
function agrees(experiments: Experiments, trusted: Readonly<Record<string, string>>, inbound: readonly [string, BaggageEntry][]): boolean {
  for (const [key, entry] of inbound) {
    if (experiments.isAllowedBaggageKey(key) && trusted[key] !== entry.value) return false;
  }
  return true;
}

function endOnClose(req: Request, res: { on(event: 'close', listener: () => void): unknown; statusCode: number; writableFinished: boolean }, span: Span, nameByRoute: boolean, state: RequestState): void {
  // 'close', not 'finish': every response closes, also one whose client went away before it
  // was complete, which never finishes and whose span would never end. `on`, not `once`: a
  // response closes once, and `once` allocated a wrapper and a removal per request.
  res.on('close', () => {
    // Read now: by the end the request's base is that of the router whose route answered.
    const base = req.baseUrl;
    const route = (req.route as { path?: string } | undefined)?.path;
    if (route !== undefined) {
      if (nameByRoute) span.updateName(`${req.method} ${base}${route}`);
      span.setAttribute('http.route', `${base}${route}`);
    }
    // A response the client did not wait for has no status it received, and is not the server's error.
    if (res.writableFinished) {
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= SERVER_ERROR) span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end(state.startMs + (performance.now() - state.startedAt));
    releaseRequest(state);
  });
}

/** The experiment context (frozen: a visitor's requests may share it), and the inbound claims of a request without a visitor that named real variants. */
function visitorContext(
  experiments: Experiments,
  visitorId: string | undefined,
  inbound: Iterable<readonly [string, string]>,
  forced: Readonly<Record<string, string>>,
): { experimentContext: ExperimentContext; unverifiedClaims: string[] } {
  const decided = experiments.visitorContext(visitorId, inbound, forced);
  const assignment = decided.assignment;
  return {
    experimentContext: Object.freeze({
      visitorId,
      experiments: Object.freeze({ ...assignment?.experiments }),
      reasons: Object.freeze({ ...assignment?.reasons }),
      baggage: Object.freeze({ ...decided.baggage }),
      verified: visitorId !== undefined,
      mismatchedKeys: Object.freeze([...decided.mismatchedKeys]),
    }),
    unverifiedClaims: Object.entries(decided.unverified).map(([key, value]) => `${key}=${value}`),
  };
}

/**
 * What the server stands behind for this request: the visitor, its variants, the reasons and
 * the baggage. Throws when `experimentMiddleware` was not mounted before the route.
 */
export function getExperimentContext(req: Request): ExperimentContext {
  return requestState(req, 'getExperimentContext').experimentContext;
}

/**
 * Metric attributes for a request, low-cardinality: every running experiment's baggage key
 * with the visitor's variant, `unknown` when not enrolled. For the app's own metrics.
 */
export function experimentMetricAttributes(req: Request): Record<string, string> {
  return { ...requestState(req, 'experimentMetricAttributes').shape.metricAttributes };
}
