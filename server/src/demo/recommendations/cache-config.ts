/** Cache sizes and lifetimes of the recommendation server (bounded: memory never grows with traffic). */
export interface RecommendationCacheConfig {
  /** How long a visitor's features are reused (`FEATURES_CACHE_TTL_MS`). */
  readonly featuresTtlMs: number;
  /** Most visitors whose features are kept. */
  readonly maxFeatures: number;
  /** How long pools, neighbours and articles read from the content database are reused (`CONTENT_CACHE_TTL_MS`). */
  readonly contentTtlMs: number;
  /** Most neighbour lists and most articles kept, each. */
  readonly maxContentEntries: number;
}

export const DEFAULT_CACHE_CONFIG: RecommendationCacheConfig = {
  featuresTtlMs: 30_000,
  maxFeatures: 10_000,
  contentTtlMs: 60_000,
  maxContentEntries: 20_000,
};
