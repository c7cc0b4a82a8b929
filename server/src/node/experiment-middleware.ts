import {
  context,
  metrics,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
} from '@opentelemetry/api';
import type { Request, RequestHandler } from 'express';
import { ATTR } from '../../../common/src/semconv.js';
import { isValidVisitorId, MAX_VISITOR_ID_LENGTH } from '../../../common/src/visitor-id.js';
import { UNVERIFIED_ATTRIBUTE, withSpanAttributes } from './experiment-baggage-span-processor.js';
import { requestState, setRequestState } from './request-state.js';
import type { ExperimentContext, ExperimentMiddlewareOptions, Experiments } from './types.js';

/** Instrumentation scope of the spans and metrics of `variant-lens/node`. */
export const SCOPE = 'variant-lens';
/** Millisecond buckets of `recommendation.latency`, from sub-millisecond cache hits to multi-second stalls. */
export const LATENCY_BUCKETS_MS = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];
/** On the server span of a request without a visitor: the inbound claims that named real variants, `key=value`. */
export const UNVERIFIED_BAGGAGE_ATTRIBUTE = 'variant_lens.unverified.baggage';
const SERVER_ERROR = 500;
const BAD_REQUEST = 400;

/** A 400 in the Express convention (`status`, `expose`): any error handler answers it as such. */
function badRequest(message: string): Error {
  return Object.assign(new Error(message), { status: BAD_REQUEST, statusCode: BAD_REQUEST, expose: true });
}

function toBaggageEntries(values: Readonly<Record<string, string>>) {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, { value }]));
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
  const tracer = options.tracer ?? trace.getTracer(SCOPE);
  const meter = options.meter ?? metrics.getMeter(SCOPE);
  const mismatches = meter.createCounter('experiment.baggage_mismatch', {
    description: 'Requests whose inbound baggage disagreed with the server-side assignment',
  });
  const impressions = meter.createCounter('recommendation.impressions', { description: 'Number of recommendations shown to users' });
  const latency = meter.createHistogram('recommendation.latency', {
    description: 'Time to generate recommendations',
    unit: 'ms',
    advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
  });
  return (req, res, next) => {
    const startedAt = performance.now();
    let visitorId: string | undefined;
    let forced: Readonly<Record<string, string>>;
    try {
      visitorId = options.visitorId?.(req);
      forced = options.forcedVariants?.(req) ?? {};
    } catch (error) {
      next(error);
      return;
    }
    if (visitorId !== undefined && !isValidVisitorId(visitorId)) {
      next(badRequest(`visitor id is invalid, expected 1 to ${MAX_VISITOR_ID_LENGTH} printable characters`));
      return;
    }
    const active = context.active();
    const existing = trace.getSpan(active);
    // A span of this process in the active context is the HTTP instrumentation's SERVER span.
    const annotate = existing !== undefined && !existing.spanContext().isRemote;
    const parent = annotate ? active : propagation.extract(ROOT_CONTEXT, req.headers);
    const inbound = (propagation.getBaggage(parent)?.getAllEntries() ?? []).map(([key, entry]) => [key, entry.value] as const);
    const decided = visitorContext(experiments, visitorId, inbound, forced);
    const { experimentContext } = decided;
    // A forced (QA) visitor is not randomised: every span of its requests says so, and the
    // analysis leaves them out of every figure (request-attribution.ts).
    const forcedVisitor = Object.values(experimentContext.reasons).includes(FORCED_REASON);
    const spanAttributes: Attributes = experimentContext.verified
      ? { ...experimentContext.baggage, ...(forcedVisitor ? { [ATTR.EXPERIMENT_FORCED]: true } : {}) }
      : { [UNVERIFIED_ATTRIBUTE]: true };
    const trusted = withSpanAttributes(
      experimentContext.verified
        ? propagation.setBaggage(parent, propagation.createBaggage(toBaggageEntries(experimentContext.baggage)))
        : propagation.deleteBaggage(parent),
      spanAttributes,
    );
    let span: Span;
    if (annotate) {
      span = existing;
      span.setAttributes(spanAttributes);
    } else {
      span = tracer.startSpan(
        options.spanName ?? `${req.method} ${req.baseUrl}`,
        { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method, 'url.path': req.originalUrl.split('?')[0] ?? '' } },
        trusted,
      );
    }
    if (decided.unverifiedClaims.length > 0) span.setAttribute(UNVERIFIED_BAGGAGE_ATTRIBUTE, decided.unverifiedClaims);
    if (experimentContext.mismatchedKeys.length > 0) {
      span.setAttribute('experiment.baggage_mismatch', true);
      span.setAttribute('experiment.baggage_mismatch.keys', [...experimentContext.mismatchedKeys]);
      for (const key of experimentContext.mismatchedKeys) {
        mismatches.add(1, { ...experiments.metricAttributes(experimentContext.baggage), 'baggage.key': key });
      }
    }
    if (!annotate) endOnFinish(req, res, span, options.spanName === undefined);
    const otelContext = annotate ? trusted : trace.setSpan(trusted, span);
    setRequestState(req, { experimentContext, otelContext, startedAt, experiments, tracer, impressions, latency });
    context.with(otelContext, next);
  };
}

function endOnFinish(req: Request, res: { once(event: 'finish', listener: () => void): unknown; statusCode: number }, span: Span, nameByRoute: boolean): void {
  res.once('finish', () => {
    // Read now: by the end the request's base is that of the router whose route answered.
    const base = req.baseUrl;
    const route = (req.route as { path?: string } | undefined)?.path;
    if (route !== undefined) {
      if (nameByRoute) span.updateName(`${req.method} ${base}${route}`);
      span.setAttribute('http.route', `${base}${route}`);
    }
    span.setAttribute('http.response.status_code', res.statusCode);
    if (res.statusCode >= SERVER_ERROR) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
}

/** `feature_flag.result.reason` of a variant forced for QA rather than assigned by the hash. */
const FORCED_REASON = 'targeting_match';

/** The experiment context, and the inbound claims of a request without a visitor that named real variants. */
function visitorContext(
  experiments: Experiments,
  visitorId: string | undefined,
  inbound: readonly (readonly [string, string])[],
  forced: Readonly<Record<string, string>>,
): { experimentContext: ExperimentContext; unverifiedClaims: string[] } {
  const decided = experiments.visitorContext(visitorId, inbound, forced);
  const assignment = decided.assignment;
  return {
    experimentContext: {
      visitorId,
      experiments: assignment?.experiments ?? {},
      reasons: assignment?.reasons ?? {},
      baggage: decided.baggage,
      verified: visitorId !== undefined,
      mismatchedKeys: decided.mismatchedKeys,
    },
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
  const state = requestState(req, 'experimentMetricAttributes');
  return state.experiments.metricAttributes(state.experimentContext.baggage);
}
