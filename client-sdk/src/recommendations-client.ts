/** Fetching recommendations from any URL: the variant-lens demo's, or the team's own service. */
import type { RecommendationResponse } from '../../common/src/wire-types.js';

export type { Recommendation, RecommendationResponse } from '../../common/src/wire-types.js';

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
