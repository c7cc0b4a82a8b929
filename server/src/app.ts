import express, { type Express, type RequestHandler } from 'express';
import { StoreTraceSource, type TraceSource } from './analysis/trace-source.js';
import { cors } from './http/cors.js';
import { errorHandler, notFound } from './http/http-error.js';
import { dashboardHeaders, noSniff } from './http/security-headers.js';
import type { ReadAccess } from './http/read-access.js';
import type { Experiments } from './node/index.js';
import { telemetryApi } from './routes/api-routes.js';
import { otlpRoutes, type AcceptedBatchSink, type OtlpRouteConfig } from './routes/otlp-routes.js';
import type { OtlpForwarder } from './services/otlp-forwarder.js';
import { staticRoutes, type StaticConfig } from './routes/static-routes.js';
import type { ExperimentAnalysis } from './services/analysis-service.js';
import type { IngestPool } from './ingest/ingest-pool.js';
import type { TelemetryStore } from './store/telemetry-store.js';
import type { OwnTelemetryStatus } from './telemetry/store-exporters.js';

/** Everything the HTTP layer needs; `index.ts` builds it, tests build their own. */
export interface AppDeps {
  readonly store: TelemetryStore;
  readonly experiments: Experiments;
  /** A team's own routes (the demo's visitor API and site), mounted after the read API and before the dashboard and `/`. */
  readonly routes?: RequestHandler;
  readonly analysis: ExperimentAnalysis;
  /** Where the trace view reads traces (default: `store`); the exporter's tables with `ANALYSIS_BACKEND=clickhouse`. */
  readonly traces?: TraceSource;
  readonly corsOrigins: readonly string[];
  readonly otlp: OtlpRouteConfig;
  readonly ingestPool: IngestPool;
  readonly forwarder?: OtlpForwarder;
  /** Takes accepted batches before they are acknowledged: ClickHouse embedded (`CLICKHOUSE_URL=chdb:`). */
  readonly acceptedSink?: AcceptedBatchSink;
  /** Serve `/bench/parse-only/v1/*` (decode, store nothing) for the ingest benchmark. */
  readonly benchParseOnlyRoute?: boolean;
  readonly static: StaticConfig;
  /** The read side's door (`READ_TOKEN`): the dashboard, the trace view and the read API. */
  readonly readAccess: ReadAccess;
  /** Express's `trust proxy` (`TRUST_PROXY`): the proxies believed about the protocol (the login cookie's `Secure`) and the client's address. */
  readonly trustProxy?: number | readonly string[];
  /** Answers `/healthz`: false while starting or shutting down. */
  readonly isReady: () => boolean;
  /** The server's own telemetry on its way to the store: shown by `/healthz`, so a loss is never silent. */
  readonly ownTelemetry?: () => OwnTelemetryStatus;
}

/** The Express application, not listening: parsers → CORS → routers → 404 (JSON, or HTML for a browser's page) → errors. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(noSniff);
  app.set('query parser', 'simple');
  if (deps.trustProxy !== undefined) app.set('trust proxy', typeof deps.trustProxy === 'number' ? deps.trustProxy : [...deps.trustProxy]);
  app.get('/healthz', (_req, res) => {
    // A store that can no longer commit makes the server unhealthy: it would refuse every export.
    const problem = !deps.isReady() ? 'starting or stopping' : deps.ingestPool.problem;
    const ownTelemetry = deps.ownTelemetry?.();
    if (problem === undefined) res.json({ status: 'ok', ownTelemetry });
    else res.status(503).json({ status: 'unavailable', reason: problem, ownTelemetry });
  });
  app.use('/v1', cors(deps.corsOrigins), otlpRoutes({ pool: deps.ingestPool, forwarder: deps.forwarder, accepted: deps.acceptedSink, config: deps.otlp }));
  if (deps.benchParseOnlyRoute) {
    app.use('/bench/parse-only/v1', otlpRoutes({ pool: deps.ingestPool, config: { ...deps.otlp, parseOnly: true } }));
  }
  app.use('/api', cors(deps.corsOrigins), telemetryApi({ ...deps, traces: deps.traces ?? new StoreTraceSource(deps.store) }, deps.readAccess.api));
  // After the telemetry API, so reading traces does not itself make traces.
  if (deps.routes !== undefined) app.use(deps.routes);
  app.use('/dashboard', dashboardHeaders);
  app.use(deps.readAccess.routes());
  app.use('/dashboard', deps.readAccess.page);
  app.use(staticRoutes(deps.static));
  app.use(notFound);
  app.use(errorHandler);
  return app;
}
