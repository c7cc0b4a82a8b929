/** A real Express app behind `experimentMiddleware`, on an ephemeral port, with spans kept in memory. */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { registerInstrumentations, type Instrumentation } from '@opentelemetry/instrumentation';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import express from 'express';
import type { RequestListener, Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach } from 'vitest';
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

/**
 * The SDK with stock `instrumentations` enabled, and a server of the app `makeApp` builds, on an
 * ephemeral port, for the tests of one file: `makeApp` gets a `require` to load what the
 * instrumentations patch (`express`) after they are enabled; `node:http` is loaded so too. The
 * spans are cleared before each test; after all, the server closes and the instrumentations stop.
 */
export function instrumentedServer(instrumentations: Instrumentation[], makeApp: (require: NodeJS.Require) => RequestListener): { url(): string; spans(): ReadableSpan[] } {
  let server: Server;
  let url: string;
  let sdk: ReturnType<typeof registerSdk>;
  let unregister: () => void;
  beforeAll(async () => {
    sdk = registerSdk();
    unregister = registerInstrumentations({ instrumentations });
    const require = createRequire(import.meta.url);
    server = (require('node:http') as typeof import('node:http')).createServer(makeApp(require));
    url = await listen(server);
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    unregister();
  });
  beforeEach(() => sdk.spans().splice(0));
  return { url: () => url, spans: () => sdk.spans() };
}

/** Whether `child` starts no earlier and ends no later than `parent`, to the nanosecond. */
export function liesWithin(child: ReadableSpan, parent: ReadableSpan): boolean {
  const ns = (time: [number, number]) => BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]);
  return ns(child.startTime) >= ns(parent.startTime) && ns(child.endTime) <= ns(parent.endTime);
}
