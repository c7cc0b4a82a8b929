import { propagation, type Attributes, type Baggage, type Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** Decides which baggage keys become span attributes. */
export type BaggageKeyPredicate = (key: string) => boolean;

/**
 * Copies allow-listed baggage entries onto every span as it starts, so that HTTP, feature
 * store, database and cache spans all carry the experiment variant without handlers copying
 * it by hand (the pattern of `@opentelemetry/baggage-span-processor`, with a key predicate).
 */
export class BaggageSpanProcessor implements SpanProcessor {
  /**
   * The attributes each baggage gives. Baggage is immutable and one request's spans share
   * one, so its entries are filtered once per request rather than once per span.
   */
  private readonly attributesOf = new WeakMap<Baggage, Attributes>();

  constructor(private readonly keyPredicate: BaggageKeyPredicate) {}

  onStart(span: Span, parentContext: Context): void {
    const baggage = propagation.getBaggage(parentContext);
    if (baggage === undefined) return;
    let attributes = this.attributesOf.get(baggage);
    if (attributes === undefined) {
      attributes = {};
      for (const [key, entry] of baggage.getAllEntries()) {
        if (this.keyPredicate(key)) attributes[key] = entry.value;
      }
      this.attributesOf.set(baggage, attributes);
    }
    span.setAttributes(attributes);
  }

  onEnd(_span: ReadableSpan): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
