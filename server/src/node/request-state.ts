import { context, createContextKey, type Context, type Tracer } from '@opentelemetry/api';
import type { Request } from 'express';
import type { ServedMetricsRecorder } from './served-metrics.js';
import type { ExperimentContext } from './types.js';
import type { TelemetryShape } from './visitor-decisions.js';

/** What the middleware keeps for `getExperimentContext` and `recordServed`, per request. */
export interface RequestState {
  /** The request it is the state of, until its response has closed (`releaseRequest`). */
  request: object | undefined;
  readonly experimentContext: ExperimentContext;
  /** The trusted OpenTelemetry context the handler runs in. */
  readonly otelContext: Context;
  /** `performance.now()` when the middleware saw the request. */
  readonly startedAt: number;
  /** `startedAt` on the wall clock (milliseconds since the epoch), the one anchor of the request's spans of ours. */
  readonly startMs: number;
  /** What the request's spans and metrics carry, derived from the experiment context. */
  readonly shape: TelemetryShape;
  readonly tracer: Tracer;
  /** Where the impressions and latency of a served list are recorded. */
  readonly served: ServedMetricsRecorder;
  /** The visit's `session.id` from the inbound baggage (the browser SDK's), recorded on the request span. */
  readonly sessionId: string | undefined;
}

/**
 * Where the state sits: under a symbol in `res.locals`, the per-request object Express makes
 * for every response (a symbol key, which no enumeration or JSON of it shows and no view
 * renders), and in the context the handler runs in (`STATE_KEY`), where it is read first
 * while the request is under way. `res.locals` is where it is found otherwise: after the
 * response, or in code that lost the context (a callback of a library that does not keep
 * it). Added to the request itself, it gave every request object a new hidden class, made on
 * the spot (Express 5 gives each its own): 1.5 µs a request in the Express benchmark's CPU
 * profile (bench/RESULTS.md, session 13). (A WeakMap keyed by the request, before that, added
 * an ephemeron per request for the garbage collector to trace.)
 */
const STATE = Symbol('variant-lens request state');
/** The context entry of the request's state, in the context its handler runs in. */
export const STATE_KEY = createContextKey('variant-lens request state');

type Holder = { [STATE]?: RequestState };

function localsOf(req: Request): Holder | undefined {
  const locals = (req as { res?: { locals?: unknown } }).res?.locals;
  return typeof locals === 'object' && locals !== null ? (locals as Holder) : undefined;
}

export function setRequestState(req: Request, state: RequestState): void {
  const locals = localsOf(req);
  if (locals !== undefined) locals[STATE] = state;
}

/** The request's state; a programming error (the middleware is not mounted before this route) throws. */
export function requestState(req: Request, caller: string): RequestState {
  // The handler's context first: one field read there, where `res.locals` is two property
  // loads on objects whose shapes no inline cache keeps (each request's its own).
  const active = context.active().getValue(STATE_KEY) as RequestState | undefined;
  if (active !== undefined && active.request === req) return active;
  const state = localsOf(req)?.[STATE];
  if (state === undefined) {
    throw new Error(`${caller}: experimentMiddleware did not run for ${req.method} ${req.originalUrl.split('?')[0]}; mount it before this route (app.use(experimentMiddleware({...})))`);
  }
  return state;
}

/** The response has closed: the state no longer names the request, which contexts kept alive after it must not keep. */
export function releaseRequest(state: RequestState): void {
  state.request = undefined;
}
