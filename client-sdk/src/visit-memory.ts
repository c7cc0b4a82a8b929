/**
 * What the SDK remembers for the visit (sessionStorage): the visitor's experiment baggage,
 * and the recommendation lists it served, so a click on any page can name its request.
 */

import { isSessionId } from '../../common/src/session-id.js';
import { readJson as read, writeJson as write } from './storage.js';

/** Experiment data that came with a recommendation response. */
export interface ExperimentData {
  /** `requestId` of the served list; becomes `recommendation.request_id`. */
  readonly requestId?: string;
  /** Baggage entries from the response, e.g. `experiment.rec_algorithm`. */
  readonly baggage?: Readonly<Record<string, string>>;
  /** The server's `recommendation.request` span, linked from the click. */
  readonly trace?: { readonly traceId: string; readonly spanId: string } | null;
}

const BAGGAGE_KEY = 'variant-lens.baggage';
const REQUESTS_KEY = 'variant-lens.requests';
const SESSION_KEY = 'variant-lens.session';
/** Served lists remembered per visit; older ones are forgotten first. */
const MAX_REMEMBERED_REQUESTS = 50;

function randomHex(bytes: number): string {
  const values = new Uint8Array(bytes);
  crypto.getRandomValues(values);
  return Array.from(values, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class VisitMemory {
  private baggage: Record<string, string>;
  private readonly requests: Record<string, ExperimentData>;
  readonly sessionId: string;

  constructor(private readonly storage: Storage | undefined) {
    this.baggage = read(storage, BAGGAGE_KEY, {});
    this.requests = read(storage, REQUESTS_KEY, {});
    // Whatever else the tab's storage holds is replaced: the id travels in baggage and on every span.
    const session = read<unknown>(storage, SESSION_KEY, null);
    this.sessionId = isSessionId(session) ? session : randomHex(16);
    if (session !== this.sessionId) write(storage, SESSION_KEY, this.sessionId);
  }

  /** The visitor's experiment baggage as last served. */
  visitBaggage(): Readonly<Record<string, string>> {
    return this.baggage;
  }

  /** Remembers a served list and the assignment that came with it. */
  rememberResponse(data: ExperimentData): void {
    if (data.baggage !== undefined) {
      this.baggage = { ...data.baggage };
      write(this.storage, BAGGAGE_KEY, this.baggage);
    }
    if (data.requestId === undefined) return;
    this.requests[data.requestId] = { requestId: data.requestId, baggage: data.baggage, trace: data.trace ?? null };
    const ids = Object.keys(this.requests);
    for (const id of ids.slice(0, Math.max(0, ids.length - MAX_REMEMBERED_REQUESTS))) delete this.requests[id];
    write(this.storage, REQUESTS_KEY, this.requests);
  }

  /** The experiment data of a served list, or what the visit knows when the list is unknown. */
  experimentDataFor(requestId: string | undefined): ExperimentData {
    const known = requestId === undefined ? undefined : this.requests[requestId];
    return known ?? { requestId, baggage: this.baggage };
  }
}

/** The visitor id for this page, per the configured source. */
export function resolveVisitorId(
  source: { kind: 'query'; param: string } | { kind: 'fixed'; id: string } | { kind: 'anonymous' },
  location: { search: string },
  session: Storage | undefined,
  local: Storage | undefined,
): string {
  if (source.kind === 'fixed') return source.id;
  const VISITOR_KEY = 'variant-lens.visitor';
  if (source.kind === 'query') {
    const fromQuery = new URLSearchParams(location.search).get(source.param);
    if (fromQuery) {
      write(session, VISITOR_KEY, fromQuery);
      return fromQuery;
    }
    const remembered = read<string | null>(session, VISITOR_KEY, null);
    if (remembered) return remembered;
  }
  const ANONYMOUS_KEY = 'variant-lens.anonymous-id';
  const existing = read<string | null>(local, ANONYMOUS_KEY, null);
  if (existing) return existing;
  const created = `anon-${randomHex(8)}`;
  write(local, ANONYMOUS_KEY, created);
  return created;
}
