import { propagation, type Attributes, type Baggage, type Context } from '@opentelemetry/api';
import { ATTR } from '../../../common/src/semconv.js';
import { UNVERIFIED_ATTRIBUTE, withSpanAttributes } from './experiment-baggage-span-processor.js';
import type { ExperimentContext, Experiments } from './types.js';

/** `feature_flag.result.reason` of a variant forced for QA rather than assigned by the hash. */
export const FORCED_REASON = 'targeting_match';
/** `feature_flag.provider.name` of the evaluation events. */
const FEATURE_FLAG_PROVIDER = 'variant-lens';
/**
 * Most distinct telemetry shapes kept (one per combination of variants, reasons and cohort:
 * a dozen for the demo's file). A bound only so that no input can grow it without limit.
 */
const MAX_SHAPES = 1024;

/**
 * Everything the telemetry of a request derives from its experiment context. It depends only
 * on the variants, reasons and baggage — not on the visitor — so the many visitors who share
 * an assignment share one, and a request builds none of it.
 */
export interface TelemetryShape {
  /** The trusted baggage to propagate; undefined when nothing is believed (no visitor). */
  readonly baggage: Baggage | undefined;
  /** Attributes every span of the request gets (`ExperimentBaggageSpanProcessor`). */
  readonly spanAttributes: Attributes;
  /** Attributes of the impressions, latency and mismatch metrics: low-cardinality. */
  readonly metricAttributes: Readonly<Record<string, string>>;
  /** One `feature_flag.evaluation` event's attributes per experiment decided for the visitor. */
  readonly flagEvents: readonly Attributes[];
  /** A forced (QA) visitor: not randomised, left out of the analysis. */
  readonly forced: boolean;
  /** The trusted context of a request that arrived with no trace context or baggage of its own. */
  readonly rootContext: Context;
}

/** The shapes of one experiments file, made once each. */
export class TelemetryShapes {
  private readonly shapes = new Map<string, TelemetryShape>();

  constructor(private readonly experiments: Experiments, private readonly root: Context) {}

  /** The shape of a request with this experiment context. */
  of(context: ExperimentContext): TelemetryShape {
    const key = context.verified ? JSON.stringify([context.experiments, context.reasons, context.baggage]) : '';
    let shape = this.shapes.get(key);
    if (shape === undefined) {
      if (this.shapes.size >= MAX_SHAPES) this.shapes.clear();
      shape = this.make(context);
      this.shapes.set(key, shape);
    }
    return shape;
  }

  /** The trusted context under `parent` (the extracted inbound one, or the instrumentation's). */
  trustedContext(shape: TelemetryShape, parent: Context): Context {
    if (parent === this.root) return shape.rootContext;
    return withSpanAttributes(shape.baggage === undefined ? propagation.deleteBaggage(parent) : propagation.setBaggage(parent, shape.baggage), shape.spanAttributes);
  }

  private make(context: ExperimentContext): TelemetryShape {
    const forced = Object.values(context.reasons).includes(FORCED_REASON);
    const metricAttributes = Object.freeze(this.experiments.metricAttributes(context.baggage));
    if (!context.verified) {
      const spanAttributes = Object.freeze({ [UNVERIFIED_ATTRIBUTE]: true });
      return { baggage: undefined, spanAttributes, metricAttributes, flagEvents: [], forced, rootContext: withSpanAttributes(propagation.deleteBaggage(this.root), spanAttributes) };
    }
    // A forced (QA) visitor is not randomised: every span of its requests says so, and the
    // analysis leaves them out of every figure (request-attribution.ts).
    const spanAttributes: Attributes = Object.freeze({ ...context.baggage, ...(forced ? { [ATTR.EXPERIMENT_FORCED]: true } : {}) });
    const baggage = propagation.createBaggage(Object.fromEntries(Object.entries(context.baggage).map(([key, value]) => [key, { value }])));
    const flagEvents: Attributes[] = [];
    for (const experiment of this.experiments.experiments) {
      const variant = context.experiments[experiment.key];
      if (variant === undefined) continue;
      flagEvents.push(
        Object.freeze({
          'feature_flag.key': experiment.key,
          'feature_flag.result.variant': variant,
          'feature_flag.provider.name': FEATURE_FLAG_PROVIDER,
          'feature_flag.result.reason': context.reasons[experiment.key] ?? 'unknown',
        }),
      );
    }
    return { baggage, spanAttributes, metricAttributes, flagEvents, forced, rootContext: withSpanAttributes(propagation.setBaggage(this.root, baggage), spanAttributes) };
  }
}

/**
 * The experiment contexts of recent visitors, so that a visitor's next request does not hash
 * its id again (a SHA-256 per experiment). The experiments are fixed once loaded, so a
 * visitor's assignment never changes while the cache holds it. Oldest first out.
 */
export class VisitorCache {
  private readonly visitors = new Map<string, VisitorDecision>();

  constructor(private readonly maxVisitors: number) {}

  get(visitorId: string): VisitorDecision | undefined {
    return this.visitors.get(visitorId);
  }

  set(visitorId: string, decision: VisitorDecision): void {
    if (this.maxVisitors <= 0) return;
    if (this.visitors.size >= this.maxVisitors) this.visitors.delete(this.visitors.keys().next().value!);
    this.visitors.set(visitorId, decision);
  }
}

/** A visitor's experiment context and the telemetry shape it has. */
export interface VisitorDecision {
  readonly experimentContext: ExperimentContext;
  readonly shape: TelemetryShape;
}
