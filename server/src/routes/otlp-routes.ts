import { timingSafeEqual } from 'node:crypto';
import express, { Router, type ErrorRequestHandler, type Request, type Response } from 'express';
import { encodeExportResponse, encodeStatus } from '../core/otlp-protobuf.js';
import { describeError, HttpError } from '../http/http-error.js';
import type { ForwardSignal, OtlpForwarder } from '../services/otlp-forwarder.js';
import { IngestOverloadedError, MalformedBodyError, type IngestOutcome, type IngestPool } from '../store/ingest-pool.js';

/** Configuration of the OTLP/HTTP collection endpoint. */
export interface OtlpRouteConfig {
  /** Largest request body accepted, compressed and after decompression, in bytes. */
  readonly maxBodyBytes: number;
  /** Decode but do not store: the ceiling the ingest benchmark compares against. */
  readonly parseOnly?: boolean;
  /** Bearer token of the deployment's own services; their OTLP is stored as trusted. */
  readonly internalToken?: string;
}

/** What decodes (and stores) OTLP bodies: the SQLite ingest pool, or the stateless endpoint's decoder. */
export type OtlpIngest = Pick<IngestPool, 'ingest' | 'hasRoomFor' | 'inFlightBytes'>;

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

function bodyOf(req: Request, encoding: Encoding): Buffer {
  const body = req.body as unknown;
  const bytes = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
  // No bytes are a valid protobuf message (every field unset: nothing to export), not valid JSON.
  if (bytes.length === 0 && encoding === 'json') throw new HttpError(400, 'body is empty, expected an OTLP export request');
  return bytes;
}

function respond(res: Response, encoding: Encoding, signal: 'traces' | 'metrics', response: object): void {
  if (encoding === 'json') {
    res.json(response);
    return;
  }
  res.type(PROTOBUF_TYPE).send(Buffer.from(encodeExportResponse(signal, response)));
}

/** True when the request carries the internal token (compared in constant time). */
function isInternal(req: Request, token: string | undefined): boolean {
  const header = req.headers.authorization;
  if (token === undefined || token === '' || header === undefined) return false;
  const expected = Buffer.from(`Bearer ${token}`);
  const actual = Buffer.from(header);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** 503 with `Retry-After`: the exporter retries the same batch later. */
function retryLater(message: string): HttpError {
  return new HttpError(503, message, { 'Retry-After': String(OVERLOAD_RETRY_AFTER_SECONDS) });
}

function overloaded(reason: string): HttpError {
  return retryLater(`overloaded: ${reason}; retry later`);
}

async function ingest(deps: OtlpRouteDeps, req: Request, signal: 'traces' | 'metrics', encoding: Encoding, body: Buffer): Promise<IngestOutcome> {
  try {
    return await deps.pool.ingest(signal, encoding, body, {
      parseOnly: deps.config.parseOnly,
      trusted: isInternal(req, deps.config.internalToken),
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
  // Overload is refused before the body is read, from its declared length, so that bodies
  // waiting for room do not pile up in memory; the pool checks again with the real size.
  router.use((req, _res, next) => {
    const declared = Number(req.headers['content-length']);
    if (req.method === 'POST' && Number.isFinite(declared) && !deps.pool.hasRoomFor(declared)) throw overloaded(`${deps.pool.inFlightBytes} bytes of telemetry are waiting to be stored`);
    next();
  });
  // body-parser inflates gzip/deflate and applies the limit to the inflated bytes too, so a
  // small compressed body that inflates past the limit (a gzip bomb) is refused with 413.
  router.use(express.raw({ type: () => true, limit: deps.config.maxBodyBytes }));
  router.post('/traces', async (req, res) => {
    const encoding = encodingOf(req);
    const body = bodyOf(req, encoding);
    const outcome = await ingest(deps, req, 'traces', encoding, body);
    await passOn(deps, 'traces', outcome);
    respond(res, encoding, 'traces', outcome.rejected > 0 ? { partialSuccess: { rejectedSpans: outcome.rejected, errorMessage: outcome.errors.join('; ') } } : {});
  });
  router.post('/metrics', async (req, res) => {
    const encoding = encodingOf(req);
    const body = bodyOf(req, encoding);
    const outcome = await ingest(deps, req, 'metrics', encoding, body);
    await passOn(deps, 'metrics', outcome);
    respond(
      res,
      encoding,
      'metrics',
      outcome.rejected > 0 ? { partialSuccess: { rejectedDataPoints: outcome.rejected, errorMessage: outcome.errors.join('; ') } } : {},
    );
  });
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
