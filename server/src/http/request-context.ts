import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Counter,
  type Meter,
  type Tracer,
} from '@opentelemetry/api';
import type { RequestHandler, Response } from 'express';
import type { ExperimentService, VisitorExperimentContext } from '../services/experiment-service.js';
import { forcedVariants, visitorId } from './visitor.js';

/** What the request-context middleware leaves for the routes. */
export interface RequestLocals {
  experiment: VisitorExperimentContext;
}

export function requestLocals(res: Response): RequestLocals {
  return res.locals as RequestLocals;
}

const SERVER_ERROR = 500;

/**
 * One server span per API request, in the context extracted from `traceparent` and
 * `baggage`, with the inbound baggage replaced by what the server stands behind: only
 * allow-listed keys, and the server's own assignment when the request names a visitor.
 * Cheaper than the stock HTTP + Express instrumentations: one span, no per-layer spans.
 */
export function requestContext(deps: { tracer: Tracer; meter: Meter; experiments: ExperimentService }): RequestHandler {
  const mismatches: Counter = deps.meter.createCounter('experiment.baggage_mismatch', {
    description: 'Requests whose inbound baggage disagreed with the server-side assignment',
  });
  return (req, res, next) => {
    const extracted = propagation.extract(ROOT_CONTEXT, req.headers);
    const inbound = propagation.getBaggage(extracted)?.getAllEntries() ?? [];
    const experiment = deps.experiments.visitorContext(
      visitorId(req),
      inbound.map(([key, entry]) => [key, entry.value] as const),
      forcedVariants(req),
    );
    requestLocals(res).experiment = experiment;
    const baggage = propagation.createBaggage(
      Object.fromEntries(Object.entries(experiment.baggage).map(([key, value]) => [key, { value }])),
    );
    const parent = propagation.setBaggage(extracted, baggage);
    const base = req.baseUrl;
    const span = deps.tracer.startSpan(
      `${req.method} ${base}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': req.method, 'url.path': req.originalUrl.split('?')[0] ?? '' },
      },
      parent,
    );
    if (experiment.mismatchedKeys.length > 0) {
      span.setAttribute('experiment.baggage_mismatch', true);
      span.setAttribute('experiment.baggage_mismatch.keys', [...experiment.mismatchedKeys]);
      for (const key of experiment.mismatchedKeys) {
        mismatches.add(1, { ...deps.experiments.metricAttributes(experiment.baggage), 'baggage.key': key });
      }
    }
    res.once('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      if (route !== undefined) {
        span.updateName(`${req.method} ${base}${route}`);
        span.setAttribute('http.route', `${base}${route}`);
      }
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= SERVER_ERROR) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(trace.setSpan(parent, span), next);
  };
}
