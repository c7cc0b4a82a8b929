/** A real Express app behind `experimentMiddleware`, on an ephemeral port, with spans kept in memory. */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ExperimentBaggageSpanProcessor, experimentMiddleware, getExperimentContext, loadExperiments, recordServed } from '../../src/node/index.js';

export const experiments = loadExperiments('config/experiments.json');

/** Registers the SDK globally (the stock HTTP instrumentation uses the global provider). */
export function registerSdk() {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new ExperimentBaggageSpanProcessor(), new SimpleSpanProcessor(exporter)] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  trace.setGlobalTracerProvider(provider);
  return { provider, spans: () => exporter.getFinishedSpans() };
}

/** The quick start's app; `/recs` also reports the baggage an outgoing call would carry. */
export function quickStartApp() {
  const app = express();
  app.use('/api', experimentMiddleware({ experiments, visitorId: (req) => (typeof req.query.userId === 'string' ? req.query.userId : undefined) }));
  app.get('/api/recs', (req, res) => {
    const { experiments: variants } = getExperimentContext(req);
    const items = ['a1', 'a2', 'a3'];
    const outgoing: Record<string, string> = {};
    propagation.inject(context.active(), outgoing);
    res.json({ ...recordServed(req, { count: items.length, contentIds: items }), variants, outgoing, recommendations: items });
  });
  app.get('/api/plain', (req, res) => {
    trace.getTracer('app').startSpan('db.query').end();
    res.json(getExperimentContext(req));
  });
  return app;
}

export async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export const TRACE_ID = '5'.repeat(32);
export const PARENT = '00f067aa0ba902b7';
