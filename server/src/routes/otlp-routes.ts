import express, { Router, type Request } from 'express';
import { decodeMetricsRequest, decodeTraceRequest, MalformedOtlpError, type DecodeResult } from '../core/otlp-json.js';
import type { TelemetryStore } from '../store/telemetry-store.js';
import { HttpError } from '../http/http-error.js';

/** Configuration of the OTLP/HTTP collection endpoint. */
export interface OtlpRouteConfig {
  /** Largest request body accepted, compressed or not, in bytes. */
  readonly maxBodyBytes: number;
}

function parseJson(req: Request): unknown {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) {
    throw new HttpError(415, `content-type ${type || '(none)'} is not supported, expected application/json`);
  }
  const body = req.body as unknown;
  if (!Buffer.isBuffer(body) || body.length === 0) throw new HttpError(400, 'body is empty, expected an OTLP export request');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HttpError(400, `body is not valid JSON: ${(error as Error).message}`);
  }
}

function decodeOrReject<T>(decode: () => DecodeResult<T>): DecodeResult<T> {
  try {
    return decode();
  } catch (error) {
    if (error instanceof MalformedOtlpError) throw new HttpError(400, `body is not an OTLP export request: ${error.message}`);
    throw error;
  }
}

/** `POST /v1/traces` and `POST /v1/metrics`: OTLP/HTTP from browsers (untrusted). */
export function otlpRoutes(deps: { store: TelemetryStore; config: OtlpRouteConfig }): Router {
  const router = Router();
  // body-parser inflates gzip/deflate and applies the limit to the inflated bytes too.
  router.use(express.raw({ type: () => true, limit: deps.config.maxBodyBytes }));
  router.post('/traces', (req, res) => {
    const body = parseJson(req);
    const result = decodeOrReject(() => decodeTraceRequest(body, { trusted: false }));
    deps.store.addSpans(result.items);
    res.json(result.rejected > 0 ? { partialSuccess: { rejectedSpans: result.rejected, errorMessage: result.errors.join('; ') } } : {});
  });
  router.post('/metrics', (req, res) => {
    const body = parseJson(req);
    const result = decodeOrReject(() => decodeMetricsRequest(body, { trusted: false }));
    deps.store.addMetricPoints(result.items);
    res.json(
      result.rejected > 0 ? { partialSuccess: { rejectedDataPoints: result.rejected, errorMessage: result.errors.join('; ') } } : {},
    );
  });
  router.post('/logs', (_req, res) => {
    res.status(404).json({ error: 'logs are not collected here; send traces to /v1/traces and metrics to /v1/metrics' });
  });
  return router;
}
