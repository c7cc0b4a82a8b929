/** Recommendation events: a click or a viewable impression as a span and a counter, with the list's experiment attributes. */
import { diag, TraceFlags, type Link, type Tracer } from '@opentelemetry/api';
import type { DeltaCounter } from './delta-metrics.js';
import { ATTR_CONTENT_ID, ATTR_EXPERIMENT_PREFIX, ATTR_POSITION, ATTR_REQUEST_ID } from '../../common/src/semconv.js';
import type { ExperimentData } from './visit-memory.js';

const logger = diag.createComponentLogger({ namespace: 'variant-lens' });

/** One recommendation the visitor clicked or saw. */
export interface RecommendationEvent {
  readonly contentId: string;
  readonly position: number;
  readonly requestId?: string | undefined;
}

/**
 * The experiment attributes of an event: the `experiment.*` entries of the baggage its list
 * was served with. Which experiments exist is the server's business; the SDK knows no keys.
 */
export function experimentAttributes(baggage: Readonly<Record<string, string>>): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(baggage)) {
    if (key.startsWith(ATTR_EXPERIMENT_PREFIX)) attributes[key] = value;
  }
  return attributes;
}

/**
 * Records one event: a span with the experiment attributes, position, content and request id
 * (linked to the request's span when `link`), and its counter. Never throws.
 */
export function recordEvent(tracer: Tracer, name: string, counter: DeltaCounter, event: RecommendationEvent, data: ExperimentData, baggage: Readonly<Record<string, string>>, link: boolean): void {
  try {
    const experiments = experimentAttributes(baggage);
    const links: Link[] = link && data.trace ? [{ context: { traceId: data.trace.traceId, spanId: data.trace.spanId, traceFlags: TraceFlags.SAMPLED } }] : [];
    tracer
      .startSpan(name, {
        attributes: {
          ...experiments,
          [ATTR_POSITION]: event.position,
          [ATTR_CONTENT_ID]: event.contentId,
          ...(event.requestId === undefined ? {} : { [ATTR_REQUEST_ID]: event.requestId }),
        },
        links,
      })
      .end();
    counter.add(1, link ? { ...experiments, [ATTR_POSITION]: event.position } : experiments);
  } catch (error) {
    logger.error(`recording ${name} failed`, error);
  }
}
