/**
 * The attribution rules: what a browser's event means for the results. Which served request
 * it belongs to, whether a click counts, and for which variant. Pure: every backend (the
 * SQLite store at ingest, ClickHouse at query time) applies these rules and is held to the
 * same table of cases (`server/test/fixtures/attribution-cases.json`).
 *
 * The server's own `recommendation.request` span is the record of what was served (trusted);
 * a browser's `recommendation.click` is a claim about it (untrusted). A click counts when it
 * names a request the server served, a content id that request served, falls in the click
 * window after the request, claims no variant other than the one served and, when the request
 * recorded the visit's `session.id`, comes from that session; it counts once per (request,
 * content id). A click that claims another variant, or comes from another session (or none),
 * is a mismatch and takes nothing from a genuine click that comes later.
 */

import { ATTR } from '../../../common/src/semconv.js';

/** A click may be dated this much before its request began: browsers' clocks run a little off the server's (ms). */
export const CLICK_CLOCK_SKEW_MS = 5 * 60_000;
/** A click dated more than this after its request began does not count: a day covers a page left open overnight (ms). */
export const CLICK_HORIZON_MS = 24 * 60 * 60_000;

/** Attribute keys of the spans the rules read. */
export const ATTRIBUTION_ATTRIBUTES = {
  requestId: ATTR.REQUEST_ID,
  contentId: ATTR.CONTENT_ID,
  contentIds: ATTR.CONTENT_IDS,
  count: ATTR.COUNT,
  forced: ATTR.EXPERIMENT_FORCED,
  userId: ATTR.USER_ID,
  cohort: ATTR.USER_COHORT,
  sessionId: ATTR.SESSION_ID,
} as const;

/**
 * Who a served request was for, as the analysis sees it: `experiment` (assigned by the hash:
 * the randomised population every comparison reads), `forced` (a variant forced for QA: not
 * randomised, kept out of every figure) or `holdout` (in no running experiment: a population
 * of its own, counted apart).
 */
export type Population = 'experiment' | 'forced' | 'holdout';

/** What the server served, from its own `recommendation.request` span. */
export interface ServedRequest {
  readonly requestId: string;
  readonly startMs: number;
  /** Experiment (baggage) key → the variant served. Empty for a holdout visitor. */
  readonly variants: Readonly<Record<string, string>>;
  /** The content ids served, in position order; null when the server did not record them. */
  readonly contentIds: readonly string[] | null;
  /** How many recommendations were served. */
  readonly count: number;
  readonly population: Population;
  /** The visit's `session.id` the request was served in, when the server recorded one; null otherwise. */
  readonly sessionId: string | null;
}

/** A browser's click, as far as the rules need it. */
export interface ClickClaim {
  readonly startMs: number;
  readonly contentId: string | undefined;
  /** The click's `experiment.*` attributes: what it claims about the variants. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** The `session.id` of the visit the click came from (its span's, else its resource's); undefined when it has none. */
  readonly sessionId?: string;
}

/** Why a click that names a served request still does not count. */
export type InvalidReason = 'no content id' | 'content not served' | 'before the request' | 'after the horizon';

/** What a click means for its request. */
export type ClickVerdict =
  | { readonly outcome: 'counted' }
  | { readonly outcome: 'duplicate' }
  | { readonly outcome: 'mismatch'; readonly keys: readonly string[] }
  | { readonly outcome: 'duplicate mismatch' }
  | { readonly outcome: 'invalid'; readonly reason: InvalidReason };

/** The clicks a request has already had: what makes a click a duplicate. */
export interface ClickHistory {
  /** Whether a genuine click on this content id was counted. */
  hasCounted(contentId: string): boolean;
  /** How many genuine clicks were counted (distinct content ids). */
  countedClicks(): number;
  /** Whether a mismatched click on this content id was recorded. */
  hasMismatched(contentId: string): boolean;
}

/**
 * The request a trusted `recommendation.request` span records, or undefined when the span
 * names no request id. `isExperimentKey` tells the running experiments' baggage keys.
 */
export function servedRequestOf(
  attributes: Readonly<Record<string, unknown>>,
  startMs: number,
  isExperimentKey: (key: string) => boolean,
): ServedRequest | undefined {
  const requestId = attributes[ATTRIBUTION_ATTRIBUTES.requestId];
  if (typeof requestId !== 'string' || requestId === '') return undefined;
  const variants: Record<string, string> = {};
  for (const key in attributes) {
    const value = attributes[key];
    if (key !== ATTRIBUTION_ATTRIBUTES.cohort && typeof value === 'string' && isExperimentKey(key)) variants[key] = value;
  }
  const ids = attributes[ATTRIBUTION_ATTRIBUTES.contentIds];
  const contentIds = Array.isArray(ids) && ids.every((id) => typeof id === 'string') ? (ids as string[]) : null;
  const count = attributes[ATTRIBUTION_ATTRIBUTES.count];
  const population: Population =
    attributes[ATTRIBUTION_ATTRIBUTES.forced] === true ? 'forced' : Object.keys(variants).length === 0 ? 'holdout' : 'experiment';
  const sessionId = attributes[ATTRIBUTION_ATTRIBUTES.sessionId];
  return {
    requestId,
    startMs,
    variants,
    contentIds,
    count: typeof count === 'number' && Number.isFinite(count) ? Math.max(0, Math.floor(count)) : (contentIds?.length ?? 0),
    population,
    sessionId: typeof sessionId === 'string' && sessionId !== '' ? sessionId : null,
  };
}

/** The `session.id` a browser span carries, as `ClickClaim.sessionId` takes it. */
export function clickSessionId(attributes: Readonly<Record<string, unknown>>): string | undefined {
  const sessionId = attributes[ATTRIBUTION_ATTRIBUTES.sessionId];
  return typeof sessionId === 'string' && sessionId !== '' ? sessionId : undefined;
}

/** The experiment claims of a browser span: its `experiment.*` attributes. */
export function experimentClaims(attributes: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  for (const key in attributes) if (key.startsWith(ATTR.EXPERIMENT_PREFIX)) claims[key] = attributes[key];
  return claims;
}

/**
 * The served experiment keys a click contradicts: those whose variant it claims otherwise, or
 * all of them when the request recorded its session and the click comes from another (or none:
 * the SDK always reports its session, so only a forged click lacks one).
 */
function contradicted(request: ServedRequest, click: ClickClaim): string[] {
  if (request.sessionId !== null && click.sessionId !== request.sessionId) return Object.keys(request.variants);
  const claims = click.claims;
  const keys: string[] = [];
  for (const key in request.variants) {
    const claim = claims[key];
    if (claim !== undefined && claim !== request.variants[key]) keys.push(key);
  }
  return keys;
}

/**
 * What a click means for the served request it names, given the clicks that request already
 * had. Checks run from the cheapest proof of forgery to the softest: a content id the request
 * did not serve, a time outside the click window, a claimed variant the server did not serve
 * or another session than the request's;
 * only then is a click a duplicate of one already counted. When the server did not record the
 * served ids, at most `count` distinct content ids count.
 */
export function judgeClick(request: ServedRequest, click: ClickClaim, history: ClickHistory): ClickVerdict {
  const contentId = click.contentId;
  if (contentId === undefined || contentId === '') return { outcome: 'invalid', reason: 'no content id' };
  if (request.contentIds !== null ? !request.contentIds.includes(contentId) : !history.hasCounted(contentId) && history.countedClicks() >= request.count) {
    return { outcome: 'invalid', reason: 'content not served' };
  }
  if (click.startMs < request.startMs - CLICK_CLOCK_SKEW_MS) return { outcome: 'invalid', reason: 'before the request' };
  if (click.startMs > request.startMs + CLICK_HORIZON_MS) return { outcome: 'invalid', reason: 'after the horizon' };
  const keys = contradicted(request, click);
  const otherSession = request.sessionId !== null && click.sessionId !== request.sessionId;
  if (keys.length > 0 || otherSession) return history.hasMismatched(contentId) ? { outcome: 'duplicate mismatch' } : { outcome: 'mismatch', keys };
  return history.hasCounted(contentId) ? { outcome: 'duplicate' } : { outcome: 'counted' };
}

/** What the rules make of a stream of served requests and browser events, per request. */
export interface RequestTally {
  /** Browser events of any kind that named the request (delivery). */
  events: number;
  clicks: number;
  mismatched: number;
  invalid: number;
}

/** One arrival: the server's record of a request, or a browser's event naming one. */
export type Arrival =
  | { readonly request: ServedRequest }
  | { readonly event: { readonly requestId: string; readonly click: ClickClaim | undefined } };

/** The outcome of `attribute`: tallies per served request, and the clicks that named no served request. */
export interface Attribution {
  readonly requests: ReadonlyMap<string, { readonly request: ServedRequest; readonly tally: RequestTally }>;
  /** Clicks whose request was never served, with their claims. */
  readonly unknownRequestClicks: readonly Readonly<Record<string, unknown>>[];
}

/**
 * The rules applied to arrivals in the order they arrived: the reference every backend's
 * figures must equal. An event that arrives before its request waits for it (and counts as
 * if it came after); one whose request never comes is a click on an unknown request.
 */
export function attribute(arrivals: readonly Arrival[]): Attribution {
  const requests = new Map<string, { request: ServedRequest; tally: RequestTally; counted: Set<string>; mismatched: Set<string> }>();
  const waiting = new Map<string, { click: ClickClaim | undefined }[]>();
  const apply = (entry: NonNullable<ReturnType<typeof requests.get>>, click: ClickClaim | undefined) => {
    entry.tally.events += 1;
    if (click === undefined) return;
    const verdict = judgeClick(entry.request, click, {
      hasCounted: (id) => entry.counted.has(id),
      countedClicks: () => entry.counted.size,
      hasMismatched: (id) => entry.mismatched.has(id),
    });
    if (verdict.outcome === 'counted') {
      entry.tally.clicks += 1;
      entry.counted.add(click.contentId!);
    } else if (verdict.outcome === 'mismatch') {
      entry.tally.mismatched += 1;
      entry.mismatched.add(click.contentId!);
    } else if (verdict.outcome === 'invalid') entry.tally.invalid += 1;
  };
  for (const arrival of arrivals) {
    if ('request' in arrival) {
      if (requests.has(arrival.request.requestId)) continue;
      const entry = { request: arrival.request, tally: { events: 0, clicks: 0, mismatched: 0, invalid: 0 }, counted: new Set<string>(), mismatched: new Set<string>() };
      requests.set(arrival.request.requestId, entry);
      for (const event of waiting.get(arrival.request.requestId) ?? []) apply(entry, event.click);
      waiting.delete(arrival.request.requestId);
      continue;
    }
    const entry = requests.get(arrival.event.requestId);
    if (entry !== undefined) apply(entry, arrival.event.click);
    else {
      const queue = waiting.get(arrival.event.requestId) ?? [];
      queue.push({ click: arrival.event.click });
      waiting.set(arrival.event.requestId, queue);
    }
  }
  const unknownRequestClicks = [...waiting.values()].flatMap((events) => events.filter((e) => e.click !== undefined).map((e) => e.click!.claims));
  return { requests: new Map([...requests].map(([id, { request, tally }]) => [id, { request, tally }])), unknownRequestClicks };
}
