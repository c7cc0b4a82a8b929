/**
 * Response headers that keep the read side's pages to themselves: every response is
 * `nosniff`; the dashboard's pages (and its login form) load only their own scripts, may not be
 * framed by another site (clickjacking), send no referrer and post forms only to themselves.
 * Nothing a browser sends is rendered as markup anyway; this is the second line.
 */
import type { RequestHandler } from 'express';

/** Styles inline are allowed: Observable Plot sets style attributes on the SVG it draws. */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const noSniff: RequestHandler = (_req, res, next) => {
  res.set('X-Content-Type-Options', 'nosniff');
  next();
};

export const dashboardHeaders: RequestHandler = (_req, res, next) => {
  res.set({ 'Content-Security-Policy': DASHBOARD_CSP, 'X-Frame-Options': 'DENY', 'Referrer-Policy': 'no-referrer' });
  next();
};
