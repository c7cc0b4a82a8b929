import type { ErrorRequestHandler, Request, RequestHandler } from 'express';

/** An error that becomes a 4xx/5xx response with `{error}` naming the problem. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** A `limit` query parameter: `defaultLimit` when absent, else an integer from 1 to `maxLimit`, or a 400 naming it. */
export function parseLimit(raw: unknown, defaultLimit: number, maxLimit: number): number {
  if (raw === undefined) return defaultLimit;
  const limit = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) {
    throw new HttpError(400, `limit is invalid, expected an integer from 1 to ${maxLimit}`);
  }
  return limit;
}

/** Paths of API clients, which get JSON whatever they accept. */
const API_PATH = /^\/(api|v1)(\/|$)/;

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe to place in HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * Unknown routes answer with JSON, not Express's HTML page — except a browser asking for a
 * page outside `/api` and `/v1`, which gets a short HTML page with a link home.
 */
export const notFound: RequestHandler = (req, res) => {
  if (!API_PATH.test(req.path) && req.accepts(['json', 'html']) === 'html') {
    res
      .status(404)
      .type('html')
      .send(
        `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Not found · variant-lens</title></head>` +
          `<body><h1>Not found</h1><p>There is no page at <code>${escapeHtml(req.path)}</code>.</p><p><a href="/">Home</a> · <a href="/dashboard">Dashboard</a></p></body></html>\n`,
      );
    return;
  }
  res.status(404).json({ error: `no route for ${req.method} ${req.path}` });
};

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
}

/** What a failure becomes: a status, a message naming the problem, and headers to send. */
export interface ErrorResponse {
  readonly status: number;
  readonly message: string;
  readonly headers: Record<string, string>;
}

/** The response for an error thrown by a route or a body parser; unexpected ones are logged and become 500. */
export function describeError(error: unknown, req: Request): ErrorResponse {
  if (error instanceof HttpError) return { status: error.status, message: error.message, headers: error.headers };
  const parserError = error as BodyParserError;
  if (parserError.type === 'entity.too.large') return { status: 413, message: `body is larger than the limit of ${parserError.limit} bytes`, headers: {} };
  const encoding = req.headers['content-encoding'];
  if (parserError.type === 'encoding.unsupported') {
    return { status: 415, message: `content-encoding ${encoding ?? '(none)'} is not supported, expected gzip, deflate or br (or none)`, headers: {} };
  }
  // The body parser inflates before anything reads the body: its other 400s with an encoding are a body that would not inflate.
  if (parserError.status === 400 && encoding !== undefined && encoding !== 'identity' && parserError.type === undefined) {
    return { status: 400, message: `body is not valid ${encoding} (${(error as Error).message})`, headers: {} };
  }
  if (typeof parserError.status === 'number' && parserError.status >= 400 && parserError.status < 500) {
    return { status: parserError.status, message: (error as Error).message, headers: {} };
  }
  console.error('unhandled error', error);
  return { status: 500, message: 'internal error', headers: {} };
}

/** Last middleware: every failure becomes `{error}` with a fitting status; the server keeps serving. */
export const errorHandler: ErrorRequestHandler = (error: unknown, req, res, _next) => {
  const { status, message, headers } = describeError(error, req);
  res.set(headers).status(status).json({ error: message });
};
