import { createContextKey, type Attributes, type Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/**
 * Where `experimentMiddleware` leaves the attributes every span of a request gets: the
 * experiment baggage the server stands behind, or the unverified mark.
 */
export const SPAN_ATTRIBUTES_KEY = createContextKey('variant-lens span attributes');

/** Span attribute of every span of a request whose baggage was not believed (it named no visitor). */
export const UNVERIFIED_ATTRIBUTE = 'variant_lens.unverified';

/** The context of a request with `attributes` for every span started under it. */
export function withSpanAttributes(parent: Context, attributes: Attributes): Context {
  return parent.setValue(SPAN_ATTRIBUTES_KEY, attributes);
}

/**
 * Puts the request's experiment attributes on every span as it starts, so that HTTP,
 * database, cache and downstream client spans carry the variant without handlers copying it
 * (the pattern of `@opentelemetry/baggage-span-processor`). It copies only what
 * `experimentMiddleware` vouched for — the server's own assignment — never the raw inbound
 * baggage header, which a browser writes: a span started outside the middleware's context
 * (the stock HTTP instrumentation's server span, say) gets nothing from here.
 */
export class ExperimentBaggageSpanProcessor implements SpanProcessor {
  onStart(span: Span, parentContext: Context): void {
    const attributes = parentContext.getValue(SPAN_ATTRIBUTES_KEY) as Attributes | undefined;
    if (attributes !== undefined) span.setAttributes(attributes);
  }

  onEnd(_span: ReadableSpan): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
