import { ATTR } from '../../../common/src/semconv.js';
import { SpanKind } from '@opentelemetry/api';
import type { Request } from 'express';
import { newRequestId } from './request-id.js';
import { requestState } from './request-state.js';
import type { ServedExperimentData, ServedList } from './types.js';

/** Most content ids recorded on one request span: far above any list a page shows. */
const MAX_CONTENT_IDS = 1000;

/**
 * Records one served recommendation list: the `recommendation.request` span (from when the
 * middleware saw the request until now) with `recommendation.request_id` (unguessable),
 * `user.id`, `recommendation.count`, `recommendation.content_ids` when given, the visit's
 * `session.id` when the inbound baggage named one (the browser SDK does), and one
 * `feature_flag.evaluation` event per experiment decided for the visitor; the
 * `recommendation.impressions` counter and the `recommendation.latency` histogram with the
 * experiment attributes. The experiment attributes themselves come from the
 * `ExperimentBaggageSpanProcessor`. Returns exactly the fields the browser SDK reads.
 */
export function recordServed(req: Request, served: ServedList): ServedExperimentData {
  const state = requestState(req, 'recordServed');
  const { experimentContext: visitor, shape } = state;
  const count = Number.isFinite(served.count) && served.count >= 0 ? Math.floor(served.count) : 0;
  const requestId = newRequestId();
  // Attributes are set on the started span rather than passed to startSpan, which would
  // validate and copy them (and the content ids) twice more before the span copies them again.
  const span = state.tracer.startSpan('recommendation.request', { kind: SpanKind.INTERNAL, startTime: state.startMs }, state.otelContext);
  if (served.attributes !== undefined) span.setAttributes(served.attributes);
  span.setAttribute('recommendation.request_id', requestId);
  span.setAttribute('recommendation.count', count);
  if (visitor.visitorId !== undefined) span.setAttribute('user.id', visitor.visitorId);
  // The visit it was served in: a click from another session does not count for it.
  if (state.sessionId !== undefined) span.setAttribute(ATTR.SESSION_ID, state.sessionId);
  if (served.contentIds !== undefined) span.setAttribute('recommendation.content_ids', contentIdsOf(served.contentIds));
  // Forced (QA) visitors are not randomised: the analysis leaves them out by this mark and the reasons.
  if (shape.forced) span.setAttribute(ATTR.EXPERIMENT_FORCED, true);
  // Decided when the middleware saw the request.
  for (const event of shape.flagEvents) span.addEvent('feature_flag.evaluation', event, state.startMs);
  const latency = performance.now() - state.startedAt;
  state.served.record(shape.metricAttributes, count, latency);
  const spanContext = span.spanContext();
  const recording = span.isRecording();
  span.end(state.startMs + latency);
  return {
    requestId,
    experiments: visitor.experiments,
    baggage: visitor.baggage,
    trace: recording ? { traceId: spanContext.traceId, spanId: spanContext.spanId } : null,
  };
}

/** The content ids as strings, at most MAX_CONTENT_IDS; the list itself when it already is one (the span copies it). */
function contentIdsOf(ids: readonly unknown[]): string[] {
  if (ids.length <= MAX_CONTENT_IDS && ids.every((id) => typeof id === 'string')) return ids as string[];
  return ids.slice(0, MAX_CONTENT_IDS).map(String);
}
