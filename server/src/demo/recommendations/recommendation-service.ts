import type { Attributes, Tracer } from '@opentelemetry/api';
import { ATTR } from '../../../../common/src/semconv.js';
import type { Assignment, Experiments } from '../../node/index.js';
import type { ContentStore } from '../catalogue/content-store.js';
import { FeatureStoreUnavailableError, type FeatureClient, type UserFeatures } from '../feature-store/feature-client.js';
import { articleUrl } from './article-url.js';
import { DEFAULT_CACHE_CONFIG, type RecommendationCacheConfig } from './cache-config.js';
import { CandidateSource } from './candidate-source.js';
import { LruCache } from './lru-cache.js';
import { isAlgorithm, recencyBoost, recommend, type Algorithm } from './recommenders.js';
import { cacheLookup, emptyTally, type CacheTally } from './traced-cache.js';

/** One served recommendation. */
export interface Recommendation {
  readonly contentId: string;
  readonly title: string;
  readonly url: string;
  readonly position: number;
  readonly topic: string;
  readonly summary: string;
}

/** A ranked list, and what the `recommendation.request` span should say about how it was made. */
export interface RankedList {
  readonly recommendations: readonly Recommendation[];
  readonly attributes: Attributes;
}

/** The experiments whose variants choose the algorithm and the re-ranking, by baggage key. */
const ALGORITHM_BAGGAGE_KEY = `${ATTR.EXPERIMENT_PREFIX}rec_algorithm`;
const BOOST_BAGGAGE_KEY = `${ATTR.EXPERIMENT_PREFIX}ranking_boost`;
const EMPTY_FEATURES = (userId: string): UserFeatures => ({ userId, topicAffinity: {}, tagAffinity: {}, history: [] });

/**
 * Ranks recommendations: features from the feature store behind a bounded cache, candidates
 * from the `CandidateSource`, the variant's algorithm (pure). A missing feature store
 * degrades to control. The request span and the experiment metrics are
 * `variant-lens/node`'s `recordServed`, called by the route.
 */
export class RecommendationService {
  private readonly featureCache: LruCache<UserFeatures>;
  private readonly candidates: CandidateSource;

  constructor(
    content: ContentStore,
    private readonly experiments: Experiments,
    private readonly features: FeatureClient,
    private readonly tracer: Tracer,
    cache: RecommendationCacheConfig = DEFAULT_CACHE_CONFIG,
  ) {
    this.featureCache = new LruCache(cache.maxFeatures, cache.featuresTtlMs);
    this.candidates = new CandidateSource(content, tracer, cache);
  }

  /** The visitor's list for its variants; throws only on a failure other than the feature store's. */
  async recommend(userId: string, limit: number, assignment: Pick<Assignment, 'experiments'>): Promise<RankedList> {
    const assigned = this.variantOf(assignment, ALGORITHM_BAGGAGE_KEY) ?? 'control';
    const algorithm: Algorithm = isAlgorithm(assigned) ? assigned : 'control';
    const boost = this.variantOf(assignment, BOOST_BAGGAGE_KEY) ?? 'control';
    const attributes: Attributes = {};
    // This request's cache lookups, on its request span: the cache hit rate with the user as the unit.
    const tally = emptyTally();
    let features: UserFeatures;
    let effective = algorithm;
    try {
      features = await this.userFeatures(userId, tally);
    } catch (error) {
      if (!(error instanceof FeatureStoreUnavailableError)) throw error;
      // Degrade, do not fail: the visitor still gets a list, ranked by control.
      features = EMPTY_FEATURES(userId);
      effective = 'control';
      attributes['recommendation.degraded'] = true;
      attributes['recommendation.degraded.reason'] = error.message;
    }
    const input = this.candidates.gather(effective, features, tally);
    let list = recommend(effective, input, limit);
    if (boost === 'recency_boost') list = recencyBoost(list, input.nowMs);
    attributes['recommendation.algorithm'] = effective;
    attributes[ATTR.CACHE_HITS] = tally.hits;
    attributes[ATTR.CACHE_MISSES] = tally.misses;
    return {
      attributes,
      recommendations: list.map((article, index) => ({
        contentId: article.contentId,
        title: article.title,
        url: articleUrl(article.contentId),
        position: index + 1,
        topic: article.topic,
        summary: article.summary,
      })),
    };
  }

  /** The variant the visitor experiences in the experiment carried under `baggageKey` (the demo's experiments are found by it). */
  private variantOf(assignment: Pick<Assignment, 'experiments'>, baggageKey: string): string | undefined {
    const experiment = this.experiments.experiments.find((e) => e.baggageKey === baggageKey);
    return experiment === undefined ? undefined : assignment.experiments[experiment.key];
  }

  private async userFeatures(userId: string, tally: CacheTally): Promise<UserFeatures> {
    const cached = cacheLookup(this.tracer, 'features', [userId], this.featureCache, tally);
    if (cached.misses.length === 0) return cached.found.get(userId)!;
    const features = await this.features.get(userId);
    this.featureCache.set(userId, features);
    return features;
  }
}
