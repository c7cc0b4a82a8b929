/**
 * The read side's door: the dashboard, the trace view and the read API answer only a request
 * that carries `Authorization: Bearer <READ_TOKEN>` or the login cookie. A person in a browser
 * logs in once, by the link the server prints (`/dashboard?token=…`) or the login form.
 */
import { createHmac } from 'node:crypto';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { escapeHtml } from './http-error.js';
import { bearerToken, matchesSecret, secretDigest } from './secret.js';

/** The login cookie; it holds a keyed digest of the token, never the token itself. */
export const READ_COOKIE = 'variant_lens_read';
/** How long a browser stays logged in (seconds): a week, then the link or the form again. */
const COOKIE_MAX_AGE_SECONDS = 7 * 24 * 3600;
/** Where the login form posts. */
export const LOGIN_PATH = '/dashboard/login';
/** Only pages of the dashboard are places to return to after logging in (no open redirect). */
const RETURN_PATH = /^\/dashboard(?:[/?#]|$)/;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f\\]/;
const MAX_RETURN_PATH = 2048;
/** The login form's body is one token and one path. */
const LOGIN_BODY_LIMIT = '8kb';

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The path to return to after logging in, or the dashboard when `raw` is not a dashboard page. */
function returnPath(raw: unknown): string {
  if (typeof raw !== 'string' || raw.length > MAX_RETURN_PATH || CONTROL_CHARACTERS.test(raw) || !RETURN_PATH.test(raw)) return '/dashboard';
  return raw;
}

/** The request's URL without its `token` parameter. */
function withoutToken(req: Request): string {
  const url = new URL(req.originalUrl, 'http://self');
  url.searchParams.delete('token');
  return `${url.pathname}${url.search}`;
}

/** Checks read credentials and logs browsers in. */
export class ReadAccess {
  private readonly tokenDigest: Buffer;
  private readonly cookieSecret: string;
  private readonly cookieDigest: Buffer;

  constructor(token: string) {
    this.tokenDigest = secretDigest(token);
    this.cookieSecret = createHmac('sha256', token).update('variant-lens read cookie v1').digest('base64url');
    this.cookieDigest = secretDigest(this.cookieSecret);
  }

  /** What is wrong with the request's credentials, or undefined when it may read. */
  problem(req: Request): string | undefined {
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      const token = bearerToken(authorization);
      if (token === undefined) return 'Authorization is invalid, expected Bearer <READ_TOKEN>';
      return matchesSecret(token, this.tokenDigest) ? undefined : 'Authorization names a token that is not the READ_TOKEN';
    }
    const cookie = cookieValue(req.headers.cookie, READ_COOKIE);
    if (cookie !== undefined) return matchesSecret(cookie, this.cookieDigest) ? undefined : 'the login cookie is not valid (the READ_TOKEN changed?): log in again';
    return 'Authorization is missing: the read side needs Authorization: Bearer <READ_TOKEN> (or the dashboard login cookie)';
  }

  /** For the read API: 401 with `{error}` naming what is missing. */
  readonly api: RequestHandler = (req, res, next) => {
    const problem = this.problem(req);
    if (problem === undefined) {
      // What the team reads is not for shared caches.
      res.setHeader('Cache-Control', 'no-store');
      next();
      return;
    }
    res.setHeader('WWW-Authenticate', 'Bearer realm="variant-lens read side"');
    res.status(401).json({ error: problem });
  };

  /** For the dashboard's pages and assets: `?token=` logs in; without credentials a browser gets the login form. */
  readonly page: RequestHandler = (req, res, next) => {
    const token = req.query.token;
    if (typeof token === 'string') {
      if (!matchesSecret(token, this.tokenDigest)) {
        this.loginForm(res, withoutToken(req), 'That token is not the READ_TOKEN.');
        return;
      }
      this.logIn(req, res, withoutToken(req));
      return;
    }
    const problem = this.problem(req);
    if (problem === undefined) {
      res.setHeader('Cache-Control', 'no-store');
      next();
    } else if (req.accepts(['json', 'html']) === 'html') this.loginForm(res, withoutToken(req), undefined);
    else this.api(req, res, next);
  };

  /** `POST /dashboard/login` from the form: the token, and the page to return to. */
  routes(): Router {
    const router = Router();
    router.post(LOGIN_PATH, express.urlencoded({ extended: false, limit: LOGIN_BODY_LIMIT }), (req, res) => {
      const body = (req.body ?? {}) as { token?: unknown; next?: unknown };
      const next = returnPath(body.next);
      if (typeof body.token !== 'string' || !matchesSecret(body.token, this.tokenDigest)) {
        this.loginForm(res, next, 'That token is not the READ_TOKEN.');
        return;
      }
      this.logIn(req, res, next);
    });
    return router;
  }

  private logIn(req: Request, res: Response, next: string): void {
    const target = returnPath(next);
    res.cookie(READ_COOKIE, this.cookieSecret, {
      httpOnly: true,
      sameSite: 'strict',
      secure: req.secure,
      path: '/',
      maxAge: COOKIE_MAX_AGE_SECONDS * 1000,
    });
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    // A navigation that started on another site (a link in a chat) would not send a
    // SameSite=Strict cookie along a redirect; a page of our own that moves on does.
    if (req.headers['sec-fetch-site'] === 'cross-site') {
      res
        .status(200)
        .type('html')
        .send(page('Logged in', `<meta http-equiv="refresh" content="0;url=${escapeHtml(target)}">`, `<p>Logged in. <a href="${escapeHtml(target)}">Open the dashboard</a>.</p>`));
      return;
    }
    res.redirect(303, target);
  }

  private loginForm(res: Response, next: string, message: string | undefined): void {
    const body =
      `<h1>variant-lens · log in</h1>` +
      `<p>The dashboard and the trace view are the team’s. Open the link the server printed at start, or paste the read token (<code>READ_TOKEN</code>; when unset, the server generated one and keeps it in <code>DATA_DIR/read-token</code>).</p>` +
      (message === undefined ? '' : `<p role="alert">${escapeHtml(message)}</p>`) +
      `<form method="post" action="${LOGIN_PATH}"><label>Read token <input type="password" name="token" autocomplete="current-password" required></label>` +
      `<input type="hidden" name="next" value="${escapeHtml(returnPath(next))}"> <button type="submit">Log in</button></form>`;
    res.status(401).setHeader('Cache-Control', 'no-store').setHeader('Referrer-Policy', 'no-referrer').type('html').send(page('Log in', '', body));
  }
}

function page(title: string, head: string, body: string): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)} · variant-lens</title>${head}</head><body>${body}</body></html>\n`;
}
