/**
 * The `<script src="/sdk.js" data-*>` build: starts the SDK from the tag's data attributes
 * and exposes the global `VariantLens`.
 */
import { configFromDataset } from './config.js';
import { init } from './index.js';
import type { ExperimentData } from './visit-memory.js';
import type { RecommendationResponse, RecommendationsRequest } from './variant-lens.js';

/** What the inline stub (see the README) queued before this script loaded. */
type QueuedCall = [method: string, args: ArrayLike<unknown>, resolve: (value: unknown) => void, reject: (error: unknown) => void];
const stub = (window as unknown as { VariantLens?: { q?: QueuedCall[] } }).VariantLens;
const queued: QueuedCall[] = Array.isArray(stub?.q) ? stub.q : [];

const script = document.currentScript as HTMLScriptElement | null;
let options = {};
try {
  options = configFromDataset(script?.dataset ?? {});
} catch (error) {
  console.warn('variant-lens:', (error as Error).message);
}
const sdk = init(options);

/** Fetches recommendations for this visitor, from `data-recommendations-url` or `opts.url`. */
export function getRecommendations(opts?: RecommendationsRequest): Promise<RecommendationResponse> {
  if (sdk === undefined) return Promise.reject(new Error('variant-lens is not started'));
  return sdk.getRecommendations(opts);
}

/** For a page that fetched its recommendations itself: remembers the response's experiment data so clicks count. */
export function served<T extends RecommendationResponse>(response: T): T {
  return sdk === undefined ? response : sdk.served(response);
}

/** Records a recommendation click (the seed article's signature). */
export function trackRecommendationClick(contentId: string, position: number, experimentData?: ExperimentData): void {
  sdk?.trackRecommendationClick(contentId, position, experimentData);
}

/** The visitor id the SDK acts for. */
export function visitorId(): string | undefined {
  return sdk?.visitorId;
}

/** Experiment data remembered for a served list, or for the visit. */
export function experimentData(requestId?: string): ExperimentData | undefined {
  return sdk?.experimentData(requestId);
}

/** Sends pending telemetry now. */
export function flush(): Promise<void> {
  return sdk?.flush() ?? Promise.resolve();
}

/** Grants (true) or withdraws (false) consent to send telemetry. */
export function setConsent(granted: boolean): void {
  sdk?.setConsent(granted);
}

const API: Record<string, (...args: never[]) => unknown> = { getRecommendations, served, trackRecommendationClick, visitorId, experimentData, flush, setConsent };

// Replay what the page asked for before the SDK arrived, in order; failures reject the
// caller's promise and are never thrown into the page.
for (const [method, args, resolve, reject] of queued) {
  try {
    const fn = Object.hasOwn(API, method) ? API[method]! : undefined;
    if (fn === undefined) throw new Error(`VariantLens.${method} does not exist`);
    Promise.resolve((fn as (...a: unknown[]) => unknown)(...Array.from(args))).then(resolve, reject);
  } catch (error) {
    reject(error);
  }
}
