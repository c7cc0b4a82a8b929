import type { RequestHandler } from 'express';

/** Headers a browser may send cross-origin: OTLP's content type plus the propagation headers. */
const ALLOWED_HEADERS = 'content-type, content-encoding, traceparent, tracestate, baggage';
/** Browsers may cache the preflight answer for a day. */
const PREFLIGHT_MAX_AGE_SECONDS = 86_400;

/** CORS for the configured origins (`*` allows any); the preflight allows the propagation headers. */
export function cors(origins: readonly string[]): RequestHandler {
  const allowAny = origins.includes('*');
  const allowed = new Set(origins);
  return (req, res, next) => {
    const origin = req.headers.origin;
    if (origin !== undefined && (allowAny || allowed.has(origin))) {
      res.vary('Origin');
      res.setHeader('Access-Control-Allow-Origin', origin);
      // Unexposed, a page's script could not read when to retry after a 503 (the SDK's exporter honours it).
      res.setHeader('Access-Control-Expose-Headers', 'Retry-After');
      if (req.method === 'OPTIONS') {
        res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
        res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
        res.setHeader('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_SECONDS));
        res.status(204).end();
        return;
      }
    }
    next();
  };
}
