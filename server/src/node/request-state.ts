import type { Context, Tracer } from '@opentelemetry/api';
import type { Request } from 'express';
import type { ServedMetricsRecorder } from './served-metrics.js';
import type { ExperimentContext } from './types.js';
import type { TelemetryShape } from './visitor-decisions.js';

/** What the middleware keeps for `getExperimentContext` and `recordServed`, per request. */
export interface RequestState {
  readonly experimentContext: ExperimentContext;
  /** The trusted OpenTelemetry context the handler runs in. */
  readonly otelContext: Context;
  /** `performance.now()` when the middleware saw the request. */
  readonly startedAt: number;
  /** What the request's spans and metrics carry, derived from the experiment context. */
  readonly shape: TelemetryShape;
  readonly tracer: Tracer;
  /** Where the impressions and latency of a served list are recorded. */
  readonly served: ServedMetricsRecorder;
  /** The visit's `session.id` from the inbound baggage (the browser SDK's), recorded on the request span. */
  readonly sessionId: string | undefined;
}

/**
 * Where the state sits on the request: a symbol-keyed property, which no enumeration, JSON or
 * spread of the request shows, and which goes with the request. (A WeakMap keyed by the
 * request, as before, added an ephemeron per request for the garbage collector to trace.)
 */
const STATE = Symbol('variant-lens request state');

type WithState = Request & { [STATE]?: RequestState };

export function setRequestState(req: Request, state: RequestState): void {
  (req as WithState)[STATE] = state;
}

/** The request's state; a programming error (the middleware is not mounted before this route) throws. */
export function requestState(req: Request, caller: string): RequestState {
  const state = (req as WithState)[STATE];
  if (state === undefined) {
    throw new Error(`${caller}: experimentMiddleware did not run for ${req.method} ${req.originalUrl.split('?')[0]}; mount it before this route (app.use(experimentMiddleware({...})))`);
  }
  return state;
}
