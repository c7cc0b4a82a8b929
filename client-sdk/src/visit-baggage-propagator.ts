import { propagation, type Context, type TextMapPropagator, type TextMapSetter, type TextMapGetter } from '@opentelemetry/api';
import { W3CBaggagePropagator } from '@opentelemetry/core';
import { guardBaggage } from '../../common/src/baggage-guard.js';

/**
 * W3C baggage propagation that adds the visit's experiment baggage to every outgoing
 * instrumented request, so pages need not wrap their calls in `context.with`. Everything
 * sent passes the baggage guard: only the keys the server itself assigned, short safe values.
 */
export class VisitBaggagePropagator implements TextMapPropagator {
  private readonly w3c = new W3CBaggagePropagator();

  constructor(private readonly visitBaggage: () => Readonly<Record<string, string>>) {}

  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const visit = this.visitBaggage();
    const active = propagation.getBaggage(context)?.getAllEntries() ?? [];
    const merged = new Map<string, string>(Object.entries(visit));
    for (const [key, entry] of active) merged.set(key, entry.value);
    const { entries } = guardBaggage(merged, { allowedKeys: new Set(Object.keys(visit)) });
    if (Object.keys(entries).length === 0) return;
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
