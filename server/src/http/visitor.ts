import type { Request } from 'express';
import { HttpError } from './http-error.js';

/** Longest visitor id accepted; longer ones are not ids but payloads. */
const MAX_VISITOR_ID_LENGTH = 128;
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** True for an acceptable visitor id: 1 to 128 characters, none of them control characters. */
export function isValidVisitorId(raw: string): boolean {
  return raw.length > 0 && raw.length <= MAX_VISITOR_ID_LENGTH && !CONTROL_CHARACTERS.test(raw);
}

/**
 * The visitor a request acts for. The demo's convention is the `userId` query parameter; a
 * deployment replaces this one function with its own session lookup.
 */
export function visitorId(req: Request): string | undefined {
  const raw = req.query.userId;
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !isValidVisitorId(raw)) {
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

const FORCED_PAIR = /^([a-z0-9_][a-z0-9_.-]{0,62}):([A-Za-z0-9_.-]{1,64})$/;

/**
 * QA overrides from `?forceVariant=<experimentKey>:<variant>[,...]`. Parsed always, honoured
 * only when the experiments file sets `allowForcedVariantQuery`.
 */
export function forcedVariants(req: Request): Record<string, string> {
  const raw = req.query.forceVariant;
  if (raw === undefined) return {};
  if (typeof raw !== 'string') throw new HttpError(400, 'forceVariant is invalid, expected <experimentKey>:<variant>[,...]');
  const forced: Record<string, string> = {};
  for (const pair of raw.split(',')) {
    const match = FORCED_PAIR.exec(pair.trim());
    if (match === null) throw new HttpError(400, `forceVariant is invalid, expected <experimentKey>:<variant>[,...] (actual: ${pair.slice(0, 80)})`);
    forced[match[1]!] = match[2]!;
  }
  return forced;
}
