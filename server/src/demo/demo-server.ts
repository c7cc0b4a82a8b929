import { join } from 'node:path';
import { Router } from 'express';
import { startCollector, type CollectorContext, type RunningServer } from '../collector.js';
import { experimentMiddleware } from '../node/index.js';
import { ContentStore } from './catalogue/content-store.js';
import type { DemoConfig } from './demo-config.js';
import { FeatureClient } from './feature-store/feature-client.js';
import { FeatureStoreProcess } from './feature-store/feature-store-process.js';
import { DEFAULT_CACHE_CONFIG } from './recommendations/cache-config.js';
import { ContentReader } from './recommendations/content-reader.js';
import { RecommendationService } from './recommendations/recommendation-service.js';
import { demoSiteRoutes } from './web/demo-site-routes.js';
import { visitorApi } from './web/visitor-api.js';
import { forcedVariants, visitorId } from './web/visitor.js';

/** How many articles the generated catalogue has, and its seed. */
export const CATALOGUE_SIZE = 2000;
export const CATALOGUE_SEED = 20_261_124;
/** How many users with histories the generated audience has. */
const AUDIENCE_SIZE = 5000;
/** The catalogue and audience, in `DATA_DIR`. */
const CONTENT_FILE = 'content.db';

/** The demo running inside the collector. */
export interface RunningDemo extends RunningServer {
  /** Where the feature store answers (empty when it could not start). */
  featureStoreUrl(): string;
}

/**
 * The demo as a team's own service would run: the recommendation server's routes
 * (`/api/recommendations`, `/api/assignments`, `/api/content`, `/api/topics`) behind
 * `experimentMiddleware`, and the demo site, mounted into the collector; the feature store
 * as its own process, sending its telemetry to the collector with a service token.
 */
export async function startDemo(config: DemoConfig): Promise<RunningDemo> {
  // Opened when the collector mounts the routes: after it has checked DATA_DIR can be written.
  let content: ContentStore | undefined;
  let featureStoreUrl = config.featureStoreUrl ?? '';
  let featureStore: FeatureStoreProcess | undefined;
  const routes = ({ tracer, meter, experiments }: CollectorContext) => {
    content = new ContentStore({ path: join(config.dataDir, CONTENT_FILE), articleCount: CATALOGUE_SIZE, userCount: AUDIENCE_SIZE, seed: CATALOGUE_SEED });
    const features = new FeatureClient(tracer, () => featureStoreUrl, config.featureStoreTimeoutMs, Date.now, config.internalToken);
    const recommendations = new RecommendationService(content, experiments, features, tracer, {
      ...DEFAULT_CACHE_CONFIG,
      featuresTtlMs: config.featuresCacheTtlMs,
      contentTtlMs: config.contentCacheTtlMs,
    });
    const router = Router();
    router.use('/api', experimentMiddleware({ experiments, visitorId, forcedVariants, tracer, meter }), visitorApi({ recommendations, content: new ContentReader(content, tracer) }));
    router.use(demoSiteRoutes(config.distDir));
    return router;
  };
  const startFeatureStore = async (telemetryUrl: string) => {
    if (config.featureStoreUrl !== undefined) return;
    try {
      featureStore = await FeatureStoreProcess.start({
        port: config.featureStorePort,
        host: config.featureStoreHost,
        dataDir: config.dataDir,
        experimentsFile: config.experimentsFile,
        telemetryUrl,
        token: config.internalToken,
        telemetryDisabled: config.telemetryDisabled,
        metricIntervalMs: config.metricIntervalMs,
        delayMs: config.featureStoreDelayMs,
      });
      featureStoreUrl = featureStore.url;
    } catch (error) {
      // Recommendations degrade to control without it; the server still serves.
      console.error(`the feature store did not start (${(error as Error).message}); recommendations will degrade to control`);
    }
  };
  // The feature store sends with the collector's internal token, one of its service tokens: its telemetry is trusted.
  const server = await startCollector(
    config,
    {
      dataFiles: [CONTENT_FILE],
      routes,
      start: startFeatureStore,
      // First, so its last telemetry still reaches the collector's endpoint.
      stop: async () => featureStore?.stop(),
      close: () => content?.close(),
    },
  );
  return Object.assign(server, { featureStoreUrl: () => featureStoreUrl });
}
