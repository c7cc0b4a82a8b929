import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createApp } from './app.js';
import { COHORT_BAGGAGE_KEY } from './core/experiments.js';
import type { ServerConfig } from './config.js';
import { ExperimentService } from './services/experiment-service.js';
import { OtlpForwarder } from './services/otlp-forwarder.js';
import { RetentionJob } from './services/retention-job.js';
import { RecommendationService } from './services/recommendation-service.js';
import { ContentStore } from './store/content-store.js';
import { IngestPool } from './store/ingest-pool.js';
import { TelemetryStore } from './store/telemetry-store.js';
import { startTelemetry } from './telemetry/telemetry.js';

/** How many articles the generated catalogue has, and its seed. */
const CATALOGUE_SIZE = 2000;
const CATALOGUE_SEED = 20_261_124;

/** Forwarding keeps at most 64 MiB of batches waiting for the upstream collector. */
const FORWARD_QUEUE_BYTES = 64 * 1024 * 1024;
const FORWARD_MAX_ATTEMPTS = 8;
const FORWARD_INITIAL_BACKOFF_MS = 500;
const FORWARD_MAX_BACKOFF_MS = 30_000;
const FORWARD_TIMEOUT_MS = 10_000;
/** On shutdown, give the upstream collector this long to take what is queued. */
const FORWARD_DRAIN_MS = 5_000;

/** A running variant-lens server. */
export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly store: TelemetryStore;
  readonly forwarder: OtlpForwarder | undefined;
  readonly ingestPool: IngestPool;
  /** Flushes pending telemetry to the store. */
  flush(): Promise<void>;
  /** Stops accepting, flushes telemetry and closes the databases. */
  close(): Promise<void>;
}

/** Opens the stores, starts telemetry and listens. Used by `index.ts` and by the tests. */
export async function startServer(config: ServerConfig): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true });
  const experimentKeys = new Set([...config.experiments.experiments.map((e) => e.baggageKey), COHORT_BAGGAGE_KEY]);
  const telemetryPath = join(config.dataDir, 'telemetry.db');
  // The main thread's connection reads (and migrates first); the ingest workers do all writing.
  const store = new TelemetryStore({ path: telemetryPath, isExperimentKey: (key) => experimentKeys.has(key) });
  const ingestPool = new IngestPool({
    path: telemetryPath,
    experimentKeys: [...experimentKeys],
    workers: config.ingestWorkers,
    maxInFlightBytes: config.ingestMaxInFlightBytes,
  });
  const content = new ContentStore({ path: join(config.dataDir, 'content.db'), articleCount: CATALOGUE_SIZE, seed: CATALOGUE_SEED });
  const experiments = new ExperimentService(config.experiments);
  const telemetry = startTelemetry({
    serviceName: config.serviceName,
    sink: ingestPool,
    baggageKeyPredicate: experiments.isAllowedBaggageKey,
    disabled: config.telemetryDisabled,
    metricIntervalMs: config.metricIntervalMs,
    forwardUrl: config.forwardUrl,
  });
  const forwarder =
    config.forwardUrl === undefined
      ? undefined
      : new OtlpForwarder({
          url: config.forwardUrl,
          maxQueuedBytes: FORWARD_QUEUE_BYTES,
          maxAttempts: FORWARD_MAX_ATTEMPTS,
          initialBackoffMs: FORWARD_INITIAL_BACKOFF_MS,
          maxBackoffMs: FORWARD_MAX_BACKOFF_MS,
          timeoutMs: FORWARD_TIMEOUT_MS,
        });
  const retention = new RetentionJob(store, {
    maxAgeMs: config.retentionMaxAgeHours * 3_600_000,
    maxSpans: config.retentionMaxSpans,
    intervalMs: config.retentionIntervalMs,
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
    ingestPool,
    forwarder,
    benchParseOnlyRoute: config.benchParseOnlyRoute,
    static: { distDir: config.distDir },
    isReady: () => ready,
  });
  const server: Server = await new Promise((resolveListen, reject) => {
    const s = app.listen(config.port, () => resolveListen(s));
    s.once('error', reject);
  });
  ready = true;
  retention.start();
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://localhost:${port}`,
    port,
    store,
    forwarder,
    ingestPool,
    async flush() {
      await telemetry.flush();
      await ingestPool.drain();
    },
    async close() {
      ready = false;
      await new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeIdleConnections();
      });
      retention.stop();
      await telemetry.shutdown();
      await ingestPool.close();
      await forwarder?.close(FORWARD_DRAIN_MS);
      store.close();
      content.close();
    },
  };
}
