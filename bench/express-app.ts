/**
 * The app of the Express benchmark, in one of four setups (argv[2]): `plain` Express,
 * `stock` OpenTelemetry (http + express instrumentations, batch processor, OTLP/HTTP),
 * `variant-lens` (variant-lens/node as the README's quick start), or `floor`: what any
 * implementation of that quick start must do beyond plain even with no telemetry at all — a
 * middleware mounted on `/api` that runs the handler in an async context (the context
 * manager `startTelemetry` installs), and a response carrying the request id, experiments,
 * baggage and trace ids. Every setup serves the same JSON list; telemetry goes to
 * COLLECTOR_URL as OTLP/HTTP protobuf (the exporter the OpenTelemetry JS docs install).
 * Prints `listening on <port>` when ready; on SIGTERM exports what is pending, then exits.
 */
import type { Express } from 'express';

const mode = process.argv[2];
const collectorUrl = process.env.COLLECTOR_URL ?? 'http://127.0.0.1:4318';
const items = Array.from({ length: 10 }, (_, i) => ({ contentId: `story-${i + 1}`, title: `Story ${i + 1}`, url: `/stories/${i + 1}`, position: i + 1 }));
/**
 * The app's ranker, the same in every setup: it takes who the list is for (the user id, or
 * with variant-lens the variant) and returns the list. Every setup reads the user id from the
 * query, as any recommender must; only variant-lens does more with it.
 */
const rank = (_forWhom: string | undefined) => items;

/** Exports what the setup still holds; set by the setups that export. */
let flush: () => Promise<void> = () => Promise.resolve();

async function createApp(): Promise<Express> {
  if (mode === 'stock') {
    // The stock setup as the OpenTelemetry docs show it: instrumentations registered before Express is loaded.
    const { NodeTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-node');
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
    const { registerInstrumentations } = await import('@opentelemetry/instrumentation');
    const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
    const { ExpressInstrumentation } = await import('@opentelemetry/instrumentation-express');
    const { resourceFromAttributes } = await import('@opentelemetry/resources');
    const provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'bench-stock' }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${collectorUrl}/v1/traces` }))],
    });
    provider.register();
    flush = () => provider.forceFlush();
    registerInstrumentations({ instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation()] });
    const express = (await import('express')).default;
    const app = express();
    app.get('/api/recommendations', (req, res) => {
      res.json({ recommendations: rank(String(req.query.userId ?? '')) });
    });
    return app;
  }
  const express = (await import('express')).default;
  const app = express();
  if (mode === 'plain') {
    app.get('/api/recommendations', (req, res) => {
      res.json({ recommendations: rank(String(req.query.userId ?? '')) });
    });
    return app;
  }
  if (mode === 'floor') {
    const { context, createContextKey, ROOT_CONTEXT } = await import('@opentelemetry/api');
    const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const visitor = createContextKey('visitor');
    // Fixed values of the quick start's shape; the request id a counter (cheaper than any unguessable id).
    const experiments = { rec_algorithm_v3: 'treatment', homepage_layout: 'control' };
    const trace = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' };
    let served = 0;
    app.use('/api', (req, _res, next) => context.with(ROOT_CONTEXT.setValue(visitor, req.query.userId), next));
    app.get('/api/recommendations', (req, res) => {
      const list = rank(String(context.active().getValue(visitor) ?? ''));
      res.json({ requestId: `floor-${(served += 1).toString(36).padStart(16, '0')}`, experiments, baggage: experiments, trace, recommendations: list });
    });
    return app;
  }
  if (mode === 'bound') {
    const { mountBound } = await import('./express-bound.js');
    flush = mountBound(app, collectorUrl, process.env.EXPERIMENTS_FILE ?? 'config/experiments.json', rank);
    return app;
  }
  const { startTelemetry, loadExperiments, experimentMiddleware, getExperimentContext, recordServed } = await import('../server/src/node/index.js');
  const telemetry = startTelemetry({ serviceName: 'bench-variant-lens', collectorUrl, token: 'bench-service-token-0123456789' });
  flush = () => telemetry.flush();
  const experiments = loadExperiments(process.env.EXPERIMENTS_FILE ?? 'config/experiments.json');
  app.use('/api', experimentMiddleware({ experiments, visitorId: (req) => String(req.query.userId ?? '') || undefined }));
  app.get('/api/recommendations', (req, res) => {
    const { experiments: variants } = getExperimentContext(req);
    const list = rank(variants['rec_algorithm_v3']);
    res.json({ ...recordServed(req, { count: list.length, contentIds: list.map((i) => i.contentId) }), recommendations: list });
  });
  return app;
}

if (mode !== 'plain' && mode !== 'stock' && mode !== 'variant-lens' && mode !== 'floor' && mode !== 'bound') {
  console.error('usage: express-app plain|stock|variant-lens|floor|bound');
  process.exit(2);
}
const app = await createApp();
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on ${typeof address === 'object' && address !== null ? address.port : ''}`);
});
process.on('SIGTERM', () => {
  server.close();
  void flush().finally(() => process.exit(0));
});
