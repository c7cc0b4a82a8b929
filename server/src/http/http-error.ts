import type { ErrorRequestHandler, RequestHandler } from 'express';

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

/** Unknown routes answer with JSON, not Express's HTML page. */
export const notFound: RequestHandler = (req, res) => {
  res.status(404).json({ error: `no route for ${req.method} ${req.path}` });
};

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
}

/** Last middleware: every failure becomes `{error}` with a fitting status; the server keeps serving. */
export const errorHandler: ErrorRequestHandler = (error: unknown, _req, res, _next) => {
  if (error instanceof HttpError) {
    res.set(error.headers).status(error.status).json({ error: error.message });
    return;
  }
  const parserError = error as BodyParserError;
  if (parserError.type === 'entity.too.large') {
    res.status(413).json({ error: `body is larger than the limit of ${parserError.limit} bytes` });
    return;
  }
  if (typeof parserError.status === 'number' && parserError.status >= 400 && parserError.status < 500) {
    res.status(parserError.status).json({ error: (error as Error).message });
    return;
  }
  console.error('unhandled error', error);
  res.status(500).json({ error: 'internal error' });
};
