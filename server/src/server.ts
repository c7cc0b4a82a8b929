import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createApp } from './app.js';
import { ReadAccess } from './http/read-access.js';
import { COHORT_BAGGAGE_KEY } from './core/experiments.js';
import { ConfigError, type ServerConfig } from './config.js';
import { SqliteAnalysisSource } from './analysis/sqlite-analysis-source.js';
import { ClickHouseBackend } from './clickhouse/clickhouse-backend.js';
import { AnalysisService } from './services/analysis-service.js';
import { loadExperiments } from './node/index.js';
import { FeatureClient } from './services/feature-client.js';
import { FeatureStoreProcess } from './services/feature-store-process.js';
import { OtlpForwarder, type ForwarderConfig } from './services/otlp-forwarder.js';
import { loadReadToken, READ_TOKEN_FILE, type ReadToken } from './services/read-token.js';
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
  /** The read side's token and where it came from (`READ_TOKEN`, or the file it is kept in). */
  readonly readToken: ReadToken;
  /** Where the feature store answers (empty when it could not start). */
  featureStoreUrl(): string;
  /** Flushes pending telemetry to the store. */
  flush(): Promise<void>;
  /** Stops accepting, flushes telemetry and closes the databases. */
  close(): Promise<void>;
}

/** Files the server writes in `DATA_DIR`: each must be writable where it already exists. */
const DATA_FILES = ['telemetry.db', 'content.db', READ_TOKEN_FILE].flatMap((name) => [name, `${name}-wal`, `${name}-shm`]);

/** Creates `DATA_DIR` and checks it can be written, so a read-only folder is a clear message, not an SQLite stack. */
function prepareDataDir(dataDir: string): void {
  const checked = [dataDir, ...DATA_FILES.map((name) => join(dataDir, name))];
  try {
    mkdirSync(dataDir, { recursive: true });
    for (const path of checked) if (path === dataDir || existsSync(path)) accessSync(path, constants.W_OK);
  } catch (error) {
    const { code, path } = error as NodeJS.ErrnoException;
    throw new ConfigError(
      `DATA_DIR ${dataDir} is not writable (${code ?? (error as Error).message}${path !== undefined && path !== dataDir ? ` on ${path}` : ''}): the server keeps its SQLite stores and its read token there. ` +
        'Give the user the server runs as write access to that folder and its files (chown or chmod), or set DATA_DIR to a folder it can write.',
    );
  }
}

/** Opens the stores, starts telemetry and listens. Used by `index.ts` and by the tests. */
export async function startServer(config: ServerConfig): Promise<RunningServer> {
  prepareDataDir(config.dataDir);
  const readToken = loadReadToken(config.readToken, config.dataDir);
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
    maxAgeMs: config.retentionMaxAgeHours * 3_600_000,
  });
  // The collector alone has no catalogue, feature store or demo site.
  const content = config.demo ? new ContentStore({ path: join(config.dataDir, 'content.db'), articleCount: CATALOGUE_SIZE, userCount: AUDIENCE_SIZE, seed: CATALOGUE_SEED }) : undefined;
  const experiments = loadExperiments(config.experiments);
  const analysisSource =
    config.analysisBackend === 'clickhouse' && clickhouse !== undefined
      ? clickhouse.analysisSource(config.serviceName, config.experiments.experiments.map((e) => e.baggageKey))
      : new SqliteAnalysisSource(telemetryPath);
  const analysis = new AnalysisService(analysisSource, config.experiments.experiments);
  // The trace view reads where the analysis reads.
  const traces = config.analysisBackend === 'clickhouse' && clickhouse !== undefined ? clickhouse.traceSource() : undefined;
  const telemetry = startTelemetry({
    serviceName: config.serviceName,
    exportTo: { sink: clickhouse?.withRecords(ingestPool) ?? ingestPool },
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
    maxPoints: config.retentionMaxPoints,
    intervalMs: config.retentionIntervalMs,
  }, (write) => ingestPool.withWriteLock(write));
  let featureStoreUrl = config.featureStoreUrl ?? '';
  const featureClient = new FeatureClient(telemetry.tracer, () => featureStoreUrl, config.featureStoreTimeoutMs, Date.now, config.internalToken);
  const recommendations =
    content &&
    new RecommendationService(content, experiments, featureClient, telemetry.tracer, {
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
    traces,
    corsOrigins: config.corsOrigins,
    otlp: {
      maxBodyBytes: config.maxBodyBytes,
      serviceTokens: [...config.serviceTokens, config.internalToken],
      maxOpenBodies: config.ingestMaxOpenBodies,
      bodyTimeoutMs: config.ingestBodyTimeoutMs,
    },
    ingestPool,
    forwarder,
    acceptedSink: clickhouse?.acceptedSink(),
    benchParseOnlyRoute: config.benchParseOnlyRoute,
    static: { distDir: config.distDir, demoSite: config.demo },
    readAccess: new ReadAccess(readToken.token),
    isReady: () => ready,
    ownTelemetry: telemetry.ownTelemetry,
  });
  /** Flushes the server's own telemetry into the store, then closes everything behind the HTTP server. */
  const closeBehind = async (forwardDrainMs: number) => {
    await telemetry.shutdown();
    await ingestPool.close();
    await forwarder?.close(forwardDrainMs);
    await analysis.close();
    await clickhouse?.close();
    store.close();
    content?.close();
  };
  let server: Server;
  try {
    server = await new Promise((resolveListen, reject) => {
      // Express 5 calls back with the listen error too (a busy port), so it is checked here.
      const listening = (error?: Error) => (error === undefined ? resolveListen(s) : reject(error));
      const s = config.host === undefined ? app.listen(config.port, listening) : app.listen(config.port, config.host, listening);
    });
  } catch (error) {
    // Nothing may stay open behind a server that never listened.
    await closeBehind(0);
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    throw new ConfigError(`PORT ${config.port} is already in use: stop what is listening there, or set PORT to another port (0 picks a free one)`);
  }
  const port = (server.address() as AddressInfo).port;
  let closing = false;
  // While closing, every answer ends its connection: keep-alive clients that keep sending
  // would otherwise hold the server open until the shutdown timer kills it.
  server.prependListener('request', (_req, res: import('node:http').ServerResponse) => {
    if (!closing) return;
    res.shouldKeepAlive = false;
    res.once('finish', () => setImmediate(() => server.closeIdleConnections()));
  });
  let featureStore: FeatureStoreProcess | undefined;
  if (config.demo && config.featureStoreUrl === undefined) {
    try {
      featureStore = await FeatureStoreProcess.start({
        port: config.featureStorePort,
        host: config.featureStoreHost,
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
    readToken,
    async flush() {
      await telemetry.flush();
      await ingestPool.drain();
    },
    featureStoreUrl: () => featureStoreUrl,
    async close() {
      ready = false;
      closing = true;
      server.closeIdleConnections();
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
