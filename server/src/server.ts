import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Meter, Tracer } from '@opentelemetry/api';
import type { RequestHandler } from 'express';
import { join } from 'node:path';
import { createApp } from './app.js';
import { ReadAccess } from './http/read-access.js';
import { COHORT_BAGGAGE_KEY } from './core/experiments.js';
import { ConfigError, type ServerConfig } from './config.js';
import { ClickHouseBackend } from './clickhouse/clickhouse-backend.js';
import { AnalysisService, type ExperimentAnalysis } from './services/analysis-service.js';
import { AnalysisThread } from './services/analysis-thread.js';
import { loadExperiments, type Experiments } from './node/index.js';
import { OtlpForwarder, type ForwarderConfig } from './services/otlp-forwarder.js';
import { loadReadToken, READ_TOKEN_FILE, type ReadToken } from './services/read-token.js';
import { RetentionJob } from './services/retention-job.js';
import { IngestPool } from './ingest/ingest-pool.js';
import { TelemetryStore } from './store/telemetry-store.js';
import { startTelemetry } from './telemetry/telemetry.js';

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

/** What the collector hands the routes of a team's service mounted into it. */
export interface CollectorContext {
  readonly config: ServerConfig;
  /** The collector's own tracer and meter: what they record goes to its store as trusted. */
  readonly tracer: Tracer;
  readonly meter: Meter;
  readonly experiments: Experiments;
}

/**
 * A team's own service run inside the collector's process, as the demo is: its routes, and
 * what it starts and stops with the collector. Every member is optional.
 */
export interface CollectorExtension {
  /** Files the service keeps in `DATA_DIR`: checked writable with the collector's own before anything opens. */
  readonly dataFiles?: readonly string[];
  /** Routes mounted after the read API (an `/api/*` path it does not answer reaches them) and before the dashboard and `/`. */
  routes?(context: CollectorContext): RequestHandler;
  /** After the collector listens at `url`, before `/healthz` answers ready: start what sends its telemetry here. A rejection stops the start and closes everything (`stop`, then `close`). */
  start?(url: string): Promise<void>;
  /** First on close, while the endpoint still takes telemetry: stop what sends it. */
  stop?(): Promise<void>;
  /** Last on close, and when the collector never listened: close what the routes use. */
  close?(): void;
}

/** A running variant-lens server. */
export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly store: TelemetryStore;
  readonly forwarder: OtlpForwarder | undefined;
  readonly ingestPool: IngestPool;
  /** The retention cleanup: `runOnce()` runs a pass now and resolves when it is done (tests await it instead of the interval). */
  readonly retention: Pick<RetentionJob, 'runOnce'>;
  /** The read side's token and where it came from (`READ_TOKEN`, or the file it is kept in). */
  readonly readToken: ReadToken;
  /** Flushes pending telemetry to the store. */
  flush(): Promise<void>;
  /** Stops accepting, flushes telemetry and closes the databases. */
  close(): Promise<void>;
}

/** Files the server writes in `DATA_DIR`: each must be writable where it already exists. */
/** The server's own telemetry queued for the store, kept across a crash (see `RecordJournal`). */
const OWN_TELEMETRY_JOURNAL = 'own-telemetry.journal';
const DATA_FILES = ['telemetry.db', READ_TOKEN_FILE, OWN_TELEMETRY_JOURNAL];

/** Creates `DATA_DIR` and checks it can be written, so a read-only folder is a clear message, not an SQLite stack. */
function prepareDataDir(dataDir: string, files: readonly string[]): void {
  const checked = [dataDir, ...files.flatMap((name) => [name, `${name}-wal`, `${name}-shm`]).map((name) => join(dataDir, name))];
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

/**
 * Opens the stores, starts telemetry and listens: `variant-lens collector`, and with the
 * demo's extension `variant-lens demo`. Used by the entry points and by the tests.
 */
export async function startServer(config: ServerConfig, extension: CollectorExtension = {}): Promise<RunningServer> {
  prepareDataDir(config.dataDir, [...DATA_FILES, ...(extension.dataFiles ?? [])]);
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
    knownVariants: config.experiments.experiments.flatMap((e) => e.variants.map((variant) => `${e.baggageKey}=${variant}`)),
    requestService: config.serviceName,
    workers: config.ingestWorkers,
    maxInFlightBytes: config.ingestMaxInFlightBytes,
    maxAgeMs: config.retentionMaxAgeHours * 3_600_000,
  });
  const experiments = loadExperiments(config.experiments);
  // SQLite results are read and computed on a worker thread of their own (AnalysisThread).
  const analysis: ExperimentAnalysis =
    config.analysisBackend === 'clickhouse' && clickhouse !== undefined
      ? new AnalysisService(clickhouse.analysisSource(config.serviceName, config.experiments.experiments.map((e) => e.baggageKey)), config.experiments.experiments)
      : new AnalysisThread(telemetryPath, config.experiments.experiments);
  // The trace view reads where the analysis reads.
  const traces = config.analysisBackend === 'clickhouse' && clickhouse !== undefined ? clickhouse.traceSource() : undefined;
  const telemetry = startTelemetry({
    serviceName: config.serviceName,
    exportTo: { sink: clickhouse?.withRecords(ingestPool) ?? ingestPool },
    disabled: config.telemetryDisabled,
    metricIntervalMs: config.metricIntervalMs,
    forwardUrl: config.forwardUrl,
    // With ClickHouse embedded the records also go to its tables, which the journal does not replay to.
    journalPath: clickhouse === undefined ? join(config.dataDir, OWN_TELEMETRY_JOURNAL) : undefined,
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
  let ready = false;
  const app = createApp({
    store,
    experiments,
    routes: extension.routes?.({ config, tracer: telemetry.tracer, meter: telemetry.meter, experiments }),
    analysis,
    traces,
    corsOrigins: config.corsOrigins,
    otlp: {
      maxBodyBytes: config.maxBodyBytes,
      maxBrowserBodyBytes: config.maxBrowserBodyBytes,
      serviceTokens: [...config.serviceTokens, config.internalToken],
      maxOpenBodies: config.ingestMaxOpenBodies,
      bodyTimeoutMs: config.ingestBodyTimeoutMs,
    },
    ingestPool,
    forwarder,
    acceptedSink: clickhouse?.acceptedSink(),
    benchParseOnlyRoute: config.benchParseOnlyRoute,
    static: { distDir: config.distDir },
    readAccess: new ReadAccess(readToken.token),
    trustProxy: config.trustProxy,
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
    extension.close?.();
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
  // would otherwise hold the server open until the shutdown timer kills it. That includes the
  // answers to requests already being handled when closing began (kept in `inFlight`): answered
  // keep-alive, their clients sent again on the same connection.
  const inFlight = new Set<ServerResponse>();
  const endConnectionAfter = (res: ServerResponse) => {
    if (!res.headersSent) res.shouldKeepAlive = false;
    res.once('finish', () => setImmediate(() => server.closeIdleConnections()));
  };
  server.prependListener('request', (_req, res: ServerResponse) => {
    if (closing) {
      endConnectionAfter(res);
      return;
    }
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  try {
    await extension.start?.(`http://127.0.0.1:${port}`);
  } catch (error) {
    // A service that cannot start stops the start, with nothing of the collector left open.
    await extension.stop?.().catch(() => undefined);
    await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    await closeBehind(0);
    throw error;
  }
  ready = true;
  retention.start();
  return {
    url: `http://localhost:${port}`,
    port,
    store,
    forwarder,
    ingestPool,
    retention,
    readToken,
    async flush() {
      await telemetry.flush();
      await ingestPool.drain();
    },
    async close() {
      ready = false;
      closing = true;
      for (const res of inFlight) endConnectionAfter(res);
      server.closeIdleConnections();
      // First, so its last telemetry still reaches this server's endpoint.
      await extension.stop?.();
      await new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeIdleConnections();
      });
      retention.stop();
      await closeBehind(FORWARD_DRAIN_MS);
    },
  };
}
