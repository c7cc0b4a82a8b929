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

/** Paths of API clients, which get JSON whatever they accept. */
const API_PATH = /^\/(api|v1)(\/|$)/;

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
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

/** Last middleware: every failure becomes `{error}` with a fitting status; the server keeps serving. */
export const errorHandler: ErrorRequestHandler = (error: unknown, req, res, _next) => {
  if (error instanceof HttpError) {
    res.set(error.headers).status(error.status).json({ error: error.message });
    return;
  }
  const parserError = error as BodyParserError;
  if (parserError.type === 'entity.too.large') {
    res.status(413).json({ error: `body is larger than the limit of ${parserError.limit} bytes` });
    return;
  }
  const encoding = req.headers['content-encoding'];
  if (parserError.type === 'encoding.unsupported') {
    res.status(415).json({ error: `content-encoding ${encoding ?? '(none)'} is not supported, expected gzip, deflate or br (or none)` });
    return;
  }
  // The body parser inflates before anything reads the body: its other 400s with an encoding are a body that would not inflate.
  if (parserError.status === 400 && encoding !== undefined && encoding !== 'identity' && parserError.type === undefined) {
    res.status(400).json({ error: `body is not valid ${encoding} (${(error as Error).message})` });
    return;
  }
  if (typeof parserError.status === 'number' && parserError.status >= 400 && parserError.status < 500) {
    res.status(parserError.status).json({ error: (error as Error).message });
    return;
  }
  console.error('unhandled error', error);
  res.status(500).json({ error: 'internal error' });
};
