import type { Request } from 'express';
import { HttpError } from './http-error.js';

/** Longest visitor id accepted; longer ones are not ids but payloads. */
const MAX_VISITOR_ID_LENGTH = 128;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/**
 * The visitor a request acts for. The demo's convention is the `userId` query parameter; a
 * deployment replaces this one function with its own session lookup.
 */
export function visitorId(req: Request): string | undefined {
  const raw = req.query.userId;
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_VISITOR_ID_LENGTH || CONTROL_CHARACTERS.test(raw)) {
    throw new HttpError(400, `userId is invalid, expected 1 to ${MAX_VISITOR_ID_LENGTH} printable characters`);
  }
  return raw;
}

/** The visitor, or a 400 naming the missing parameter. */
export function requireVisitorId(req: Request): string {
  const id = visitorId(req);
  if (id === undefined) throw new HttpError(400, 'userId is required');
  return id;
}
