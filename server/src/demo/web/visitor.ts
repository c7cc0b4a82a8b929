import type { Request } from 'express';
import { isValidVisitorId, MAX_VISITOR_ID_LENGTH } from '../../../../common/src/visitor-id.js';
import { HttpError } from '../../collector.js';

/**
 * The visitor a request acts for: the demo's convention, the `userId` query parameter. It is
 * the `visitorId` function the demo passes to `experimentMiddleware`; a deployment passes its
 * own session lookup instead.
 */
export function visitorId(req: Request): string | undefined {
  const raw = req.query.userId;
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !isValidVisitorId(raw)) {
    throw new HttpError(400, `userId is invalid, expected 1 to ${MAX_VISITOR_ID_LENGTH} printable characters`);
  }
  return raw;
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
