import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createApp } from './app.js';
import { COHORT_BAGGAGE_KEY } from './core/experiments.js';
import { ConfigError, type ServerConfig } from './config.js';
import { SqliteAnalysisSource } from './analysis/sqlite-analysis-source.js';
import { ClickHouseBackend } from './clickhouse/clickhouse-backend.js';
import { AnalysisService } from './services/analysis-service.js';
import { ExperimentService } from './services/experiment-service.js';
import { FeatureClient } from './services/feature-client.js';
import { FeatureStoreProcess } from './services/feature-store-process.js';
import { OtlpForwarder, type ForwarderConfig } from './services/otlp-forwarder.js';
import { RetentionJob } from './services/retention-job.js';
import { DEFAULT_CACHE_CONFIG, RecommendationService } from './services/recommendation-service.js';
import { ContentStore } from './store/content-store.js';
import { IngestPool } from './store/ingest-pool.js';
import { TelemetryStore } from './store/telemetry-store.js';
import { startTelemetry } from './telemetry/telemetry.js';

/** How many articles the generated catalogue has, and its seed. */
export const CATALOGUE_SIZE = 2000;
export const CATALOGUE_SEED = 20_261_124;
/** How many users with histories the generated audience has. */
const AUDIENCE_SIZE = 5000;

/** Forwarding keeps at most 64 MiB of batches waiting for the upstream collector. */
const FORWARD_QUEUE_BYTES = 64 * 1024 * 1024;
const FORWARD_MAX_ATTEMPTS = 8;
const FORWARD_INITIAL_BACKOFF_MS = 500;
const FORWARD_MAX_BACKOFF_MS = 30_000;
const FORWARD_TIMEOUT_MS = 10_000;
/** On shutdown, give the upstream collector this long to take what is queued. */
export const FORWARD_DRAIN_MS = 5_000;

/** The forwarder's settings for an upstream collector at `url`. */
export function forwarderConfig(url: string): ForwarderConfig {
  return {
    url,
    maxQueuedBytes: FORWARD_QUEUE_BYTES,
    maxAttempts: FORWARD_MAX_ATTEMPTS,
    initialBackoffMs: FORWARD_INITIAL_BACKOFF_MS,
    maxBackoffMs: FORWARD_MAX_BACKOFF_MS,
    timeoutMs: FORWARD_TIMEOUT_MS,
  };
}

/** A running variant-lens server. */
export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly store: TelemetryStore;
  readonly forwarder: OtlpForwarder | undefined;
  readonly ingestPool: IngestPool;
  /** Where the feature store answers (empty when it could not start). */
  featureStoreUrl(): string;
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
  // First: a ClickHouse that cannot be reached (or chdb not installed) stops the start before anything is opened.
  const clickhouse = config.clickhouse === undefined ? undefined : await ClickHouseBackend.open(config.clickhouse);
  // The main thread's connection reads (and migrates first); the ingest workers do all writing.
  const store = new TelemetryStore({ path: telemetryPath, isExperimentKey: (key) => experimentKeys.has(key), requestService: config.serviceName });
  const ingestPool = new IngestPool({
    path: telemetryPath,
    experimentKeys: [...experimentKeys],
    requestService: config.serviceName,
    workers: config.ingestWorkers,
    maxInFlightBytes: config.ingestMaxInFlightBytes,
  });
  const content = new ContentStore({ path: join(config.dataDir, 'content.db'), articleCount: CATALOGUE_SIZE, userCount: AUDIENCE_SIZE, seed: CATALOGUE_SEED });
  const experiments = new ExperimentService(config.experiments);
  const analysisSource = config.analysisBackend === 'clickhouse' && clickhouse !== undefined ? clickhouse.analysisSource(config.serviceName, config.experiments.experiments.map((e) => e.baggageKey)) : new SqliteAnalysisSource(telemetryPath);
  const analysis = new AnalysisService(analysisSource, config.experiments.experiments);
  const telemetry = startTelemetry({
    serviceName: config.serviceName,
    exportTo: { sink: clickhouse?.withRecords(ingestPool) ?? ingestPool },
    baggageKeyPredicate: experiments.isAllowedBaggageKey,
    disabled: config.telemetryDisabled,
    metricIntervalMs: config.metricIntervalMs,
    forwardUrl: config.forwardUrl,
  });
  const forwarder =
    config.forwardUrl === undefined
      ? undefined
      : new OtlpForwarder(forwarderConfig(config.forwardUrl));
  const retention = new RetentionJob(store, {
    maxAgeMs: config.retentionMaxAgeHours * 3_600_000,
    maxSpans: config.retentionMaxSpans,
    intervalMs: config.retentionIntervalMs,
  }, (write) => ingestPool.withWriteLock(write));
  let featureStoreUrl = config.featureStoreUrl ?? '';
  const featureClient = new FeatureClient(telemetry.tracer, () => featureStoreUrl, config.featureStoreTimeoutMs);
  const recommendations = new RecommendationService(content, experiments, featureClient, telemetry.tracer, telemetry.meter, {
    ...DEFAULT_CACHE_CONFIG,
    featuresTtlMs: config.featuresCacheTtlMs,
    contentTtlMs: config.contentCacheTtlMs,
  });
  let ready = false;
  const app = createApp({
    tracer: telemetry.tracer,
    meter: telemetry.meter,
    store,
    experiments,
    recommendations,
    analysis,
    corsOrigins: config.corsOrigins,
    otlp: { maxBodyBytes: config.maxBodyBytes, internalToken: config.internalToken },
    ingestPool,
    forwarder,
    acceptedSink: clickhouse?.acceptedSink(),
    benchParseOnlyRoute: config.benchParseOnlyRoute,
    static: { distDir: config.distDir },
    isReady: () => ready,
  });
  /** Flushes the server's own telemetry into the store, then closes everything behind the HTTP server. */
  const closeBehind = async (forwardDrainMs: number) => {
    await telemetry.shutdown();
    await ingestPool.close();
    await forwarder?.close(forwardDrainMs);
    await analysis.close();
    await clickhouse?.close();
    store.close();
    content.close();
  };
  let server: Server;
  try {
    server = await new Promise((resolveListen, reject) => {
      // Express 5 calls back with the listen error too (a busy port), so it is checked here.
      const s = app.listen(config.port, (error?: Error) => (error === undefined ? resolveListen(s) : reject(error)));
    });
  } catch (error) {
    // Nothing may stay open behind a server that never listened.
    await closeBehind(0);
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    throw new ConfigError(`PORT ${config.port} is already in use: stop what is listening there, or set PORT to another port (0 picks a free one)`);
  }
  const port = (server.address() as AddressInfo).port;
  let featureStore: FeatureStoreProcess | undefined;
  if (config.featureStoreUrl === undefined) {
    try {
      featureStore = await FeatureStoreProcess.start({
        port: config.featureStorePort,
        dataDir: config.dataDir,
        experimentsFile: config.experimentsFile,
        telemetryUrl: `http://127.0.0.1:${port}`,
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
  }
  ready = true;
  retention.start();
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
    featureStoreUrl: () => featureStoreUrl,
    async close() {
      ready = false;
      // First, so its last telemetry still reaches this server's endpoint.
      await featureStore?.stop();
      await new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeIdleConnections();
      });
      retention.stop();
      await closeBehind(FORWARD_DRAIN_MS);
    },
  };
}
