import express, { type Express } from 'express';
import type { Meter, Tracer } from '@opentelemetry/api';
import { cors } from './http/cors.js';
import { errorHandler, notFound } from './http/http-error.js';
import { requestContext } from './http/request-context.js';
import { telemetryApi, visitorApi } from './routes/api-routes.js';
import { otlpRoutes, type OtlpRouteConfig } from './routes/otlp-routes.js';
import { staticRoutes, type StaticConfig } from './routes/static-routes.js';
import type { ExperimentService } from './services/experiment-service.js';
import type { RecommendationService } from './services/recommendation-service.js';
import type { TelemetryStore } from './store/telemetry-store.js';

/** Everything the HTTP layer needs; `index.ts` builds it, tests build their own. */
export interface AppDeps {
  readonly tracer: Tracer;
  readonly meter: Meter;
  readonly store: TelemetryStore;
  readonly experiments: ExperimentService;
  readonly recommendations: RecommendationService;
  readonly corsOrigins: readonly string[];
  readonly otlp: OtlpRouteConfig;
  readonly static: StaticConfig;
  /** Answers `/healthz`: false while starting or shutting down. */
  readonly isReady: () => boolean;
}

/** The Express application, not listening: parsers → CORS → routers → JSON 404 → errors. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.get('/healthz', (_req, res) => {
    res.status(deps.isReady() ? 200 : 503).json({ status: deps.isReady() ? 'ok' : 'unavailable' });
  });
  app.use('/v1', cors(deps.corsOrigins), otlpRoutes({ store: deps.store, config: deps.otlp }));
  app.use('/api', cors(deps.corsOrigins), telemetryApi(deps));
  // After the telemetry API, so reading traces does not itself make traces.
  app.use('/api', requestContext(deps), visitorApi(deps));
  app.use(staticRoutes(deps.static));
  app.use(notFound);
  app.use(errorHandler);
  return app;
}
