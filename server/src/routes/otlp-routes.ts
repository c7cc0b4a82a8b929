import { Router, type ErrorRequestHandler, type Request, type Response } from 'express';
import { checkJsonCounts, checkProtobufCounts, TooManyMessagesError } from '../core/otlp-counts.js';
import { encodeExportResponse, encodeStatus, MalformedProtobufError } from '../core/otlp-protobuf.js';
import { describeError, HttpError } from '../http/http-error.js';
import { serviceTokenCheck } from '../http/service-tokens.js';
import type { ForwardSignal, OtlpForwarder } from '../services/otlp-forwarder.js';
import { BodyOverloadError, OpenBodies } from './otlp-body.js';
import { IngestOverloadedError, MalformedBodyError, type IngestOutcome, type IngestPool } from '../ingest/ingest-pool.js';

/** Configuration of the OTLP/HTTP collection endpoint. */
export interface OtlpRouteConfig {
  /** Largest request body accepted, compressed and after decompression, in bytes. */
  readonly maxBodyBytes: number;
  /** Largest body without a service token (a browser's), after decompression; default `DEFAULT_MAX_BROWSER_BODY_BYTES`, never above `maxBodyBytes`. */
  readonly maxBrowserBodyBytes?: number;
  /** Decode but do not store: the ceiling the ingest benchmark compares against. */
  readonly parseOnly?: boolean;
  /** Bearer tokens of the deployment's own services (`SERVICE_TOKENS`); their OTLP is stored as trusted. */
  readonly serviceTokens?: readonly string[];
  /** Most bodies received at once (default `DEFAULT_MAX_OPEN_BODIES`); beyond it, 503. */
  readonly maxOpenBodies?: number;
  /** Time for a body to arrive, in ms (default `DEFAULT_BODY_TIMEOUT_MS`); beyond it, 408. */
  readonly bodyTimeoutMs?: number;
}

/** Bodies received at once: 64 bodies of the 5 MiB default limit are what the in-flight default (64 MiB) holds anyway. */
export const DEFAULT_MAX_OPEN_BODIES = 64;
/** A browser's batch is at most 64 KiB (the keepalive budget); 1 MiB leaves room for any web SDK's batch. */
export const DEFAULT_MAX_BROWSER_BODY_BYTES = 1024 * 1024;
/** The OpenTelemetry exporters' own default timeout: an exporter has given up on a body slower than this. */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;

/** What decodes (and stores) OTLP bodies: the SQLite ingest pool, or the stateless endpoint's decoder. */
export type OtlpIngest = Pick<IngestPool, 'ingest' | 'hasRoomFor' | 'inFlightBytes' | 'reserve' | 'release'>;

/** Takes accepted batches (OTLP/JSON, marked with their source) before the exporter is answered: ClickHouse embedded. */
export interface AcceptedBatchSink {
  accept(signal: ForwardSignal, otlpJson: string): Promise<void>;
}

/** What the OTLP routes need. */
export interface OtlpRouteDeps {
  readonly pool: OtlpIngest;
  readonly forwarder?: OtlpForwarder;
  readonly accepted?: AcceptedBatchSink;
  readonly config: OtlpRouteConfig;
}

type Encoding = 'json' | 'protobuf';

const JSON_TYPE = 'application/json';
const PROTOBUF_TYPE = 'application/x-protobuf';
/** How long an overloaded endpoint asks exporters to wait before retrying, in seconds. */
const OVERLOAD_RETRY_AFTER_SECONDS = 1;

/** The request's media type, without parameters, in lower case. */
function mediaType(req: Request): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

function encodingOf(req: Request): Encoding {
  const type = mediaType(req);
  if (type === JSON_TYPE) return 'json';
  if (type === PROTOBUF_TYPE) return 'protobuf';
  throw new HttpError(415, `content-type ${type || '(none)'} is not supported, expected ${JSON_TYPE} or ${PROTOBUF_TYPE}`);
}


function respond(res: Response, encoding: Encoding, signal: 'traces' | 'metrics', response: object): void {
  if (encoding === 'json') {
    res.json(response);
    return;
  }
  res.type(PROTOBUF_TYPE).send(Buffer.from(encodeExportResponse(signal, response)));
}

/** 503 with `Retry-After`: the exporter retries the same batch later. */
function retryLater(message: string): HttpError {
  return new HttpError(503, message, { 'Retry-After': String(OVERLOAD_RETRY_AFTER_SECONDS) });
}

function overloaded(reason: string): HttpError {
  return retryLater(`overloaded: ${reason}; retry later`);
}

async function ingest(deps: OtlpRouteDeps, trusted: boolean, signal: 'traces' | 'metrics', encoding: Encoding, body: Buffer, reserved: number): Promise<IngestOutcome> {
  try {
    return await deps.pool.ingest(signal, encoding, body, {
      parseOnly: deps.config.parseOnly,
      trusted,
      reserved,
      // OpenBodies gives each body memory of its own: the pool hands it to a worker without a copy.
      owned: true,
      forward: deps.forwarder !== undefined || deps.accepted !== undefined,
    });
  } catch (error) {
    if (error instanceof MalformedBodyError) throw new HttpError(400, `body is not an OTLP export request: ${error.message}`);
    if (error instanceof IngestOverloadedError) throw overloaded(error.message);
    console.error('committing telemetry failed', error);
    throw retryLater('the store could not commit this batch; retry later');
  }
}

/**
 * Hands what was accepted on: to ClickHouse first (awaited: a failure is a 503 and the exporter
 * retries), then to the forwarder's queue. Never the body as received: rejected items stay out,
 * and every resource carries the source the endpoint decided.
 */
async function passOn(deps: OtlpRouteDeps, signal: ForwardSignal, outcome: IngestOutcome): Promise<void> {
  if (outcome.forward === undefined) return;
  if (deps.accepted !== undefined) {
    try {
      await deps.accepted.accept(signal, outcome.forward);
    } catch (error) {
      console.error('writing telemetry to ClickHouse failed', error);
      throw retryLater('ClickHouse could not take this batch; retry later');
    }
  }
  deps.forwarder?.enqueue(signal, Buffer.from(outcome.forward), JSON_TYPE);
}

/**
 * `POST /v1/traces` and `POST /v1/metrics`: OTLP/HTTP with JSON or protobuf bodies, gzip or
 * deflate, from browsers (untrusted). The response is sent only after the valid items are
 * committed; invalid items are reported as a partial success.
 */
export function otlpRoutes(deps: OtlpRouteDeps): Router {
  const router = Router();
  const isService = serviceTokenCheck(deps.config.serviceTokens ?? []);
  // Overload is refused before the body is read, from its declared length, so that bodies
  // waiting for room do not pile up in memory; the pool checks again with the real size.
  router.use((req, _res, next) => {
    const declared = Number(req.headers['content-length']);
    if (req.method === 'POST' && Number.isFinite(declared) && !deps.pool.hasRoomFor(declared)) throw overloaded(`${deps.pool.inFlightBytes} bytes of telemetry are waiting to be stored`);
    next();
  });
  const bodies = new OpenBodies({
    maxBytes: deps.config.maxBodyBytes,
    maxOpenBodies: deps.config.maxOpenBodies ?? DEFAULT_MAX_OPEN_BODIES,
    timeoutMs: deps.config.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
  });
  const browserBytes = deps.config.maxBrowserBodyBytes ?? DEFAULT_MAX_BROWSER_BODY_BYTES;
  const browserLimit =
    browserBytes < deps.config.maxBodyBytes ? { bytes: browserBytes, setting: 'MAX_BROWSER_BODY_BYTES, for bodies without a service token' } : { bytes: deps.config.maxBodyBytes, setting: 'MAX_BODY_BYTES' };
  /** Reads, stores (then forwards) one export; answers with what was rejected. */
  const exportRoute = (signal: 'traces' | 'metrics') => async (req: Request, res: Response) => {
    const encoding = encodingOf(req);
    const trusted = isService(req.headers.authorization);
    let received: { body: Buffer; reserved: number };
    try {
      received = await bodies.read(req, deps.pool, trusted ? undefined : browserLimit);
    } catch (error) {
      // The rest of a refused body is not read: the connection closes, so the client stops sending.
      res.set('Connection', 'close');
      if (error instanceof BodyOverloadError) throw overloaded(error.message);
      throw error;
    }
    const { body, reserved } = received;
    // No bytes are a valid protobuf message (every field unset: nothing to export), not valid JSON.
    if (body.length === 0 && encoding === 'json') {
      deps.pool.release(reserved);
      throw new HttpError(400, 'body is empty, expected an OTLP export request');
    }
    // What a browser's body holds is counted before anything decodes it (otlp-counts.ts).
    if (!trusted) {
      try {
        if (encoding === 'json') checkJsonCounts(body);
        else checkProtobufCounts(signal, body);
      } catch (error) {
        deps.pool.release(reserved);
        if (error instanceof TooManyMessagesError) throw new HttpError(400, `body is refused: ${error.message}`);
        if (error instanceof MalformedProtobufError) throw new HttpError(400, `body is not an OTLP export request: ${error.message}`);
        throw error;
      }
    }
    const outcome = await ingest(deps, trusted, signal, encoding, body, reserved);
    await passOn(deps, signal, outcome);
    const rejected = signal === 'traces' ? { rejectedSpans: outcome.rejected } : { rejectedDataPoints: outcome.rejected };
    respond(res, encoding, signal, outcome.rejected > 0 ? { partialSuccess: { ...rejected, errorMessage: outcome.errors.join('; ') } } : {});
  };
  router.post('/traces', exportRoute('traces'));
  router.post('/metrics', exportRoute('metrics'));
  router.post('/logs', () => {
    throw new HttpError(404, 'logs are not collected here; send traces to /v1/traces and metrics to /v1/metrics');
  });
  router.use(otlpErrors);
  return router;
}

/**
 * Errors as OTLP/HTTP prescribes: the body is a `Status` in the request's encoding — protobuf
 * for a protobuf request; JSON otherwise, where `message` is the Status's field and `error` the
 * field every other route of ours answers with.
 */
const otlpErrors: ErrorRequestHandler = (error: unknown, req, res, _next) => {
  const { status, message, headers } = describeError(error, req);
  res.set(headers).status(status);
  if (mediaType(req) === PROTOBUF_TYPE) res.type(PROTOBUF_TYPE).send(Buffer.from(encodeStatus(message)));
  else res.json({ error: message, message });
};
