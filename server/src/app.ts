import express, { type Express } from 'express';
import type { Meter, Tracer } from '@opentelemetry/api';
import { cors } from './http/cors.js';
import { errorHandler, notFound } from './http/http-error.js';
import { requestContext } from './http/request-context.js';
import { telemetryApi, visitorApi } from './routes/api-routes.js';
import { otlpRoutes, type AcceptedBatchSink, type OtlpRouteConfig } from './routes/otlp-routes.js';
import type { OtlpForwarder } from './services/otlp-forwarder.js';
import { staticRoutes, type StaticConfig } from './routes/static-routes.js';
import type { AnalysisService } from './services/analysis-service.js';
import type { ExperimentService } from './services/experiment-service.js';
import type { RecommendationService } from './services/recommendation-service.js';
import type { IngestPool } from './store/ingest-pool.js';
import type { TelemetryStore } from './store/telemetry-store.js';

/** Everything the HTTP layer needs; `index.ts` builds it, tests build their own. */
export interface AppDeps {
  readonly tracer: Tracer;
  readonly meter: Meter;
  readonly store: TelemetryStore;
  readonly experiments: ExperimentService;
  readonly recommendations: RecommendationService;
  readonly analysis: AnalysisService;
  readonly corsOrigins: readonly string[];
  readonly otlp: OtlpRouteConfig;
  readonly ingestPool: IngestPool;
  readonly forwarder?: OtlpForwarder;
  /** Takes accepted batches before they are acknowledged: ClickHouse embedded (`CLICKHOUSE_URL=chdb:`). */
  readonly acceptedSink?: AcceptedBatchSink;
  /** Serve `/bench/parse-only/v1/*` (decode, store nothing) for the ingest benchmark. */
  readonly benchParseOnlyRoute?: boolean;
  readonly static: StaticConfig;
  /** Answers `/healthz`: false while starting or shutting down. */
  readonly isReady: () => boolean;
}

/** The Express application, not listening: parsers → CORS → routers → 404 (JSON, or HTML for a browser's page) → errors. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.get('/healthz', (_req, res) => {
    // A store that can no longer commit makes the server unhealthy: it would refuse every export.
    const problem = !deps.isReady() ? 'starting or stopping' : deps.ingestPool.failed ? 'the telemetry store cannot be written' : undefined;
    if (problem === undefined) res.json({ status: 'ok' });
    else res.status(503).json({ status: 'unavailable', reason: problem });
  });
  app.use('/v1', cors(deps.corsOrigins), otlpRoutes({ pool: deps.ingestPool, forwarder: deps.forwarder, accepted: deps.acceptedSink, config: deps.otlp }));
  if (deps.benchParseOnlyRoute) {
    app.use('/bench/parse-only/v1', otlpRoutes({ pool: deps.ingestPool, config: { ...deps.otlp, parseOnly: true } }));
  }
  app.use('/api', cors(deps.corsOrigins), telemetryApi(deps));
  // After the telemetry API, so reading traces does not itself make traces.
  app.use('/api', requestContext(deps), visitorApi(deps));
  app.use(staticRoutes(deps.static));
  app.use(notFound);
  app.use(errorHandler);
  return app;
}
