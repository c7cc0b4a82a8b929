import { propagation, type Context, type TextMapPropagator, type TextMapSetter, type TextMapGetter } from '@opentelemetry/api';
import { W3CBaggagePropagator } from '@opentelemetry/core';
import { guardBaggage } from '../../common/src/baggage-guard.js';
import { ATTR_SESSION_ID } from '../../common/src/semconv.js';

/**
 * W3C baggage propagation that adds the visit's experiment baggage to every outgoing
 * instrumented request, so pages need not wrap their calls in `context.with`. Everything
 * sent passes the baggage guard: only the keys the server itself assigned, short safe values.
 * It also names the visit's `session.id` (random, per tab; nothing about the person), which a
 * server records on the request it serves so that a click from another visit does not count.
 */
export class VisitBaggagePropagator implements TextMapPropagator {
  private readonly w3c = new W3CBaggagePropagator();

  constructor(
    private readonly visitBaggage: () => Readonly<Record<string, string>>,
    private readonly sessionId: () => string,
  ) {}

  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const visit = this.visitBaggage();
    const active = propagation.getBaggage(context)?.getAllEntries() ?? [];
    const merged = new Map<string, string>(Object.entries(visit));
    for (const [key, entry] of active) merged.set(key, entry.value);
    const { entries } = guardBaggage(merged, { allowedKeys: new Set(Object.keys(visit)) });
    // Not through the guard (a random hex id can hold a run of digits the guard takes for a
    // personal number); the visit memory keeps only ids of a session id's shape.
    entries[ATTR_SESSION_ID] = this.sessionId();
    const baggage = propagation.createBaggage(
      Object.fromEntries(Object.entries(entries).map(([key, value]) => [key, { value }])),
    );
    this.w3c.inject(propagation.setBaggage(context, baggage), carrier, setter);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    return this.w3c.extract(context, carrier, getter);
  }

  fields(): string[] {
    return this.w3c.fields();
  }
}
