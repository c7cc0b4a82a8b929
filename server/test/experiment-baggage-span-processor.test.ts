import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { ExperimentBaggageSpanProcessor, withSpanAttributes } from '../src/node/experiment-baggage-span-processor.js';

function tracerWithProcessor() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new ExperimentBaggageSpanProcessor(), new SimpleSpanProcessor(exporter)] });
  return { tracer: provider.getTracer('test'), spans: () => exporter.getFinishedSpans() };
}

const withBaggage = (entries: Record<string, string>) =>
  propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage(Object.fromEntries(Object.entries(entries).map(([k, value]) => [k, { value }]))));

describe('ExperimentBaggageSpanProcessor', () => {
  it('puts the attributes the middleware vouched for on every span started under them', () => {
    const { tracer, spans } = tracerWithProcessor();
    const parent = withSpanAttributes(ROOT_CONTEXT, { 'experiment.rec_algorithm': 'hybrid', 'experiment.ranking_boost': 'control' });
    tracer.startSpan('first', {}, parent).end();
    tracer.startSpan('second', { attributes: { 'cache.hit': true } }, parent).end();
    expect(spans().map((s) => s.attributes)).toEqual([
      { 'experiment.rec_algorithm': 'hybrid', 'experiment.ranking_boost': 'control' },
      { 'cache.hit': true, 'experiment.rec_algorithm': 'hybrid', 'experiment.ranking_boost': 'control' },
    ]);
  });

  it('gives each request its own variants', () => {
    const { tracer, spans } = tracerWithProcessor();
    const control = withSpanAttributes(ROOT_CONTEXT, { 'experiment.rec_algorithm': 'control' });
    const hybrid = withSpanAttributes(ROOT_CONTEXT, { 'experiment.rec_algorithm': 'hybrid' });
    tracer.startSpan('a', {}, control).end();
    tracer.startSpan('b', {}, hybrid).end();
    tracer.startSpan('c', {}, control).end();
    expect(spans().map((s) => [s.name, s.attributes])).toEqual([
      ['a', { 'experiment.rec_algorithm': 'control' }],
      ['b', { 'experiment.rec_algorithm': 'hybrid' }],
      ['c', { 'experiment.rec_algorithm': 'control' }],
    ]);
  });

  it('copies nothing from raw baggage, which a browser writes, nor onto a span started outside a request', () => {
    const { tracer, spans } = tracerWithProcessor();
    tracer.startSpan('claimed', {}, withBaggage({ 'experiment.rec_algorithm': 'hybrid' })).end();
    tracer.startSpan('plain', { attributes: { 'http.route': '/x' } }, context.active()).end();
    expect(spans().map((s) => s.attributes)).toEqual([{}, { 'http.route': '/x' }]);
  });
});
