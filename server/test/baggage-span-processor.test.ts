import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { BaggageSpanProcessor } from '../src/telemetry/baggage-span-processor.js';

function tracerWithProcessor() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new BaggageSpanProcessor((key) => key.startsWith('experiment.')), new SimpleSpanProcessor(exporter)],
  });
  return { tracer: provider.getTracer('test'), spans: () => exporter.getFinishedSpans() };
}

const withBaggage = (entries: Record<string, string>) =>
  propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage(Object.fromEntries(Object.entries(entries).map(([k, value]) => [k, { value }]))));

describe('BaggageSpanProcessor', () => {
  it('copies only the allowed baggage keys onto every span started under it', () => {
    const { tracer, spans } = tracerWithProcessor();
    const parent = withBaggage({ 'experiment.rec_algorithm': 'hybrid', 'experiment.ranking_boost': 'control', 'user.email': 'a@b.c' });
    tracer.startSpan('first', {}, parent).end();
    tracer.startSpan('second', { attributes: { 'cache.hit': true } }, parent).end();
    expect(spans().map((s) => s.attributes)).toEqual([
      { 'experiment.rec_algorithm': 'hybrid', 'experiment.ranking_boost': 'control' },
      { 'cache.hit': true, 'experiment.rec_algorithm': 'hybrid', 'experiment.ranking_boost': 'control' },
    ]);
  });

  it('gives each request its own variants, however many requests came before with other baggage', () => {
    const { tracer, spans } = tracerWithProcessor();
    const control = withBaggage({ 'experiment.rec_algorithm': 'control' });
    const hybrid = withBaggage({ 'experiment.rec_algorithm': 'hybrid' });
    // The same baggage twice, then a baggage derived from it: each span shows its own context's.
    tracer.startSpan('a', {}, control).end();
    tracer.startSpan('b', {}, hybrid).end();
    tracer.startSpan('c', {}, control).end();
    const changed = propagation.setBaggage(control, propagation.getBaggage(control)!.setEntry('experiment.ranking_boost', { value: 'recency_boost' }));
    tracer.startSpan('d', {}, changed).end();
    expect(spans().map((s) => [s.name, s.attributes])).toEqual([
      ['a', { 'experiment.rec_algorithm': 'control' }],
      ['b', { 'experiment.rec_algorithm': 'hybrid' }],
      ['c', { 'experiment.rec_algorithm': 'control' }],
      ['d', { 'experiment.rec_algorithm': 'control', 'experiment.ranking_boost': 'recency_boost' }],
    ]);
  });

  it('adds nothing to a span started without baggage', () => {
    const { tracer, spans } = tracerWithProcessor();
    tracer.startSpan('plain', { attributes: { 'http.route': '/x' } }, context.active()).end();
    expect(spans()[0]!.attributes).toEqual({ 'http.route': '/x' });
  });
});
