/**
 * `STORE=none`: the collection endpoint as a stateless forwarder, for running many replicas
 * behind a load balancer in front of an OpenTelemetry Collector. It validates and bounds what
 * browsers send (the same decoding, limits and CORS as the full server), marks each batch's
 * source, and forwards only what it accepted, through the forwarder's bounded queue. It keeps
 * nothing on disk: no SQLite, no analysis, no demo.
 *
 * Delivery guarantee: a 200 means the batch was validated and is held in this replica's memory
 * queue (or, in `chdb:` mode, written to ClickHouse before answering). Queued batches are lost if
 * the replica dies before the Collector takes them: at most the queue's bound (64 MiB), and in
 * steady state only what arrived in the last round trip to the Collector. When the queue is
 * full the endpoint answers 503 with Retry-After, so exporters keep the batch and retry, rather
 * than the queue dropping older accepted batches; after the forwarder's last retry (8 attempts,
 * backoff up to 30 s) a batch the Collector keeps refusing is dropped and counted.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { ClickHouseBackend } from '../clickhouse/clickhouse-backend.js';
import { ConfigError, type ServerConfig } from '../config.js';
import { decodeOtlpBody, forwardJson, isMalformed, type OtlpEncoding, type OtlpSignal } from '../core/otlp-body.js';
import { cors } from '../http/cors.js';
import { errorHandler, notFound } from '../http/http-error.js';
import { otlpRoutes, type OtlpIngest } from '../routes/otlp-routes.js';
import { FORWARD_DRAIN_MS, forwarderConfig } from '../server.js';
import { OtlpForwarder } from '../services/otlp-forwarder.js';
import { MalformedBodyError, type IngestOptions, type IngestOutcome } from '../ingest/ingest-pool.js';

/**
 * Decodes on the request's thread and stores nothing. Room is what the forwarder's queue has
 * left: a full queue refuses new bodies (503) instead of dropping accepted ones.
 */
export class StatelessIngest implements OtlpIngest {
  readonly inFlightBytes = 0;

  constructor(private readonly queue: { readonly forwarder?: OtlpForwarder; readonly maxQueuedBytes: number }) {}

  hasRoomFor(bytes: number): boolean {
    const queued = this.queue.forwarder?.stats.queuedBytes ?? 0;
    return queued === 0 || queued + bytes <= this.queue.maxQueuedBytes;
  }

  /** A body being received fits while the forward queue has room for it (the routes read it against this). */
  reserve(bytes: number, held: number): boolean {
    return this.hasRoomFor(held + bytes);
  }

  /** Nothing is held while a body is received: the queue's bytes are the bound. */
  release(): void {}

  ingest(signal: OtlpSignal, encoding: OtlpEncoding, body: Buffer, options: IngestOptions = {}): Promise<IngestOutcome> {
    try {
      const decoded = decodeOtlpBody(signal, encoding, body, { trusted: options.trusted ?? false });
      return Promise.resolve({ rejected: decoded.rejected, errors: decoded.errors, forward: options.forward && !options.parseOnly ? forwardJson(signal, decoded) : undefined });
    } catch (error) {
      return Promise.reject(isMalformed(error) ? new MalformedBodyError(error.message) : (error as Error));
    }
  }
}

/** A running stateless endpoint. */
export interface RunningEndpoint {
  readonly url: string;
  readonly port: number;
  readonly forwarder: OtlpForwarder | undefined;
  /** Stops accepting, gives the Collector `FORWARD_DRAIN_MS` to take what is queued, closes ClickHouse. */
  close(): Promise<void>;
}

/** Starts the stateless endpoint: `/v1/traces`, `/v1/metrics`, `/healthz`. */
export async function startStatelessEndpoint(config: ServerConfig): Promise<RunningEndpoint> {
  const chdb = config.clickhouse?.url.startsWith('chdb:') === true;
  if (config.forwardUrl === undefined && !chdb) {
    throw new ConfigError('Configuration: STORE=none needs somewhere to send telemetry, expected OTLP_FORWARD_URL (a Collector) or CLICKHOUSE_URL=chdb:<folder> (actual: neither)');
  }
  const clickhouse = chdb ? await ClickHouseBackend.open(config.clickhouse!) : undefined;
  const settings = config.forwardUrl === undefined ? undefined : forwarderConfig(config.forwardUrl);
  const forwarder = settings === undefined ? undefined : new OtlpForwarder(settings);
  const ingest = new StatelessIngest({ forwarder, maxQueuedBytes: settings?.maxQueuedBytes ?? 0 });
  let ready = false;
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    if (ready) res.json({ status: 'ok', store: 'none', forwarder: forwarder?.stats ?? null });
    else res.status(503).json({ status: 'unavailable', reason: 'starting or stopping' });
  });
  app.use(
    '/v1',
    cors(config.corsOrigins),
    otlpRoutes({ pool: ingest, forwarder, accepted: clickhouse?.acceptedSink(), config: {
        maxBodyBytes: config.maxBodyBytes,
        maxBrowserBodyBytes: config.maxBrowserBodyBytes,
        serviceTokens: [...config.serviceTokens, config.internalToken],
        maxOpenBodies: config.ingestMaxOpenBodies,
        bodyTimeoutMs: config.ingestBodyTimeoutMs,
      },
    }),
  );
  app.use(notFound);
  app.use(errorHandler);
  let server: Server;
  try {
    server = await new Promise((resolveListen, reject) => {
      const s = app.listen(config.port, (error?: Error) => (error === undefined ? resolveListen(s) : reject(error)));
    });
  } catch (error) {
    await clickhouse?.close();
    throw error;
  }
  ready = true;
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://localhost:${port}`,
    port,
    forwarder,
    async close() {
      ready = false;
      await new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeIdleConnections();
      });
      await forwarder?.close(FORWARD_DRAIN_MS);
      await clickhouse?.close();
    },
  };
}
