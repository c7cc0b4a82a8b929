import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createApp } from './app.js';
import type { ServerConfig } from './config.js';
import { ExperimentService } from './services/experiment-service.js';
import { RecommendationService } from './services/recommendation-service.js';
import { ContentStore } from './store/content-store.js';
import { TelemetryStore } from './store/telemetry-store.js';
import { startTelemetry } from './telemetry/telemetry.js';

/** How many articles the generated catalogue has, and its seed. */
const CATALOGUE_SIZE = 2000;
const CATALOGUE_SEED = 20_261_124;

/** A running variant-lens server. */
export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly store: TelemetryStore;
  /** Flushes pending telemetry to the store. */
  flush(): Promise<void>;
  /** Stops accepting, flushes telemetry and closes the databases. */
  close(): Promise<void>;
}

/** Opens the stores, starts telemetry and listens. Used by `index.ts` and by the tests. */
export async function startServer(config: ServerConfig): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true });
  const store = new TelemetryStore(join(config.dataDir, 'telemetry.db'));
  const content = new ContentStore({ path: join(config.dataDir, 'content.db'), articleCount: CATALOGUE_SIZE, seed: CATALOGUE_SEED });
  const experiments = new ExperimentService(config.experiments);
  const telemetry = startTelemetry({
    serviceName: config.serviceName,
    sink: store,
    baggageKeyPredicate: experiments.isAllowedBaggageKey,
    disabled: config.telemetryDisabled,
    metricIntervalMs: config.metricIntervalMs,
  });
  const recommendations = new RecommendationService(content, experiments, telemetry.tracer, telemetry.meter);
  let ready = false;
  const app = createApp({
    tracer: telemetry.tracer,
    meter: telemetry.meter,
    store,
    experiments,
    recommendations,
    corsOrigins: config.corsOrigins,
    otlp: { maxBodyBytes: config.maxBodyBytes },
    static: { distDir: config.distDir },
    isReady: () => ready,
  });
  const server: Server = await new Promise((resolveListen, reject) => {
    const s = app.listen(config.port, () => resolveListen(s));
    s.once('error', reject);
  });
  ready = true;
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://localhost:${port}`,
    port,
    store,
    flush: () => telemetry.flush(),
    async close() {
      ready = false;
      await new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeIdleConnections();
      });
      await telemetry.shutdown();
      store.close();
      content.close();
    },
  };
}
