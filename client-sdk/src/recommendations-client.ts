/** Fetching recommendations from any URL: the variant-lens demo's, or the team's own service. */
import type { ExperimentData } from './visit-memory.js';

/** A recommendation as a server serves it. */
export interface Recommendation {
  readonly contentId: string;
  readonly title: string;
  /** Where the recommendation links to: the team's own URL, absolute or relative to the page. */
  readonly url: string;
  readonly position: number;
  readonly topic?: string;
  readonly summary?: string;
}

/** A recommendations response: the experiment data (`recordServed` on the server) and the list. */
export interface RecommendationResponse extends ExperimentData {
  readonly requestId: string;
  readonly experiments: Readonly<Record<string, string>>;
  readonly baggage: Readonly<Record<string, string>>;
  readonly recommendations: readonly Recommendation[];
}

/** Options of `getRecommendations`. */
export interface RecommendationsRequest {
  /** How many recommendations to ask for (sent as `limit`). */
  readonly limit?: number;
  /** Where to ask (default: the configured `recommendationsUrl`). `userId` and `limit` are added to its query. */
  readonly url?: string;
}

/** The URL to fetch: `url` resolved against the page, with the visitor as `userId` and `limit` in its query. */
export function recommendationsRequestUrl(url: string, visitorId: string, limit: number | undefined, pageUrl: string): string {
  const target = new URL(url, pageUrl);
  target.searchParams.set('userId', visitorId);
  if (limit !== undefined) target.searchParams.set('limit', String(limit));
  return target.href;
}

/** True when `body` has what the SDK needs of a recommendations response. */
export function isRecommendationResponse(body: unknown): body is RecommendationResponse {
  const response = body as Partial<RecommendationResponse> | null;
  return typeof response === 'object' && response !== null && typeof response.requestId === 'string' && Array.isArray(response.recommendations);
}
