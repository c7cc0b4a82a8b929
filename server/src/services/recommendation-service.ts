import { ATTR } from '../../../common/src/semconv.js';
import { SpanKind, type Attributes, type Tracer } from '@opentelemetry/api';
import type { Article } from '../core/catalogue.js';
import type { Assignment } from '../core/experiments.js';
import { catalogueClockMs, isAlgorithm, recencyBoost, recommend, type Algorithm, type RecommendationInput } from '../core/recommenders.js';
import { LATENCY_BUCKETS_MS, type Experiments } from '../node/index.js';
import type { ContentStore, TopicCount } from '../store/content-store.js';
import { FeatureStoreUnavailableError, type FeatureClient, type UserFeatures } from './feature-client.js';
import { LruCache } from './lru-cache.js';
import { dbQuery, inSpan } from './traced.js';

/** Cache hits and misses of one request's lookups. */
interface CacheTally {
  hits: number;
  misses: number;
}

export { newRequestId } from '../node/request-id.js';
export { LATENCY_BUCKETS_MS };

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
const ALGORITHM_BAGGAGE_KEY = 'experiment.rec_algorithm';
const BOOST_BAGGAGE_KEY = 'experiment.ranking_boost';
/** Candidate pool sizes: enough that exclusions and re-ranking never run a list dry. */
export const POPULAR_POOL = 300;
export const RECENT_POOL = 100;
export const TOPIC_POOL = 120;
export const NEIGHBOURS_PER_ITEM = 20;
/** History items the collaborative step looks at: the most recent ones. */
export const HISTORY_WINDOW = 20;
/** Hybrid draws content candidates from the visitor's strongest topics. */
export const HYBRID_TOPICS = 2;
const EMPTY_FEATURES = (userId: string): UserFeatures => ({ userId, topicAffinity: {}, tagAffinity: {}, history: [] });

/** Cache sizes and lifetimes (bounded: memory never grows with traffic). */
export interface RecommendationCacheConfig {
  readonly featuresTtlMs: number;
  readonly maxFeatures: number;
  readonly contentTtlMs: number;
  readonly maxContentEntries: number;
}

export const DEFAULT_CACHE_CONFIG: RecommendationCacheConfig = {
  featuresTtlMs: 30_000,
  maxFeatures: 10_000,
  contentTtlMs: 60_000,
  maxContentEntries: 20_000,
};

/** Article page URL for a content id. */
export function articleUrl(contentId: string): string {
  return `/articles/${encodeURIComponent(contentId)}`;
}

/**
 * Ranks recommendations: features from the feature store, candidates and neighbours from the
 * content database behind a bounded cache, the variant's algorithm (pure). A missing feature
 * store degrades to control. The request span and the experiment metrics are
 * `variant-lens/node`'s `recordServed`, called by the route.
 */
export class RecommendationService {
  private readonly featureCache: LruCache<UserFeatures>;
  private readonly poolCache: LruCache<Article[]>;
  /** The newest publish date of each pool the cache handed out: a pool is shared, so it is found once, not per request. */
  private readonly newestOfPool = new WeakMap<readonly Article[], number>();
  private readonly neighbourCache: LruCache<[string, number][]>;
  private readonly articleCache: LruCache<Article>;

  constructor(
    private readonly content: ContentStore,
    private readonly experiments: Experiments,
    private readonly features: FeatureClient,
    private readonly tracer: Tracer,
    cache: RecommendationCacheConfig = DEFAULT_CACHE_CONFIG,
  ) {
    this.featureCache = new LruCache(cache.maxFeatures, cache.featuresTtlMs);
    this.poolCache = new LruCache(64, cache.contentTtlMs);
    this.neighbourCache = new LruCache(cache.maxContentEntries, cache.contentTtlMs);
    this.articleCache = new LruCache(cache.maxContentEntries, cache.contentTtlMs);
  }

  /** The visitor's list for its variants; throws only on a failure other than the feature store's. */
  async recommend(userId: string, limit: number, assignment: Pick<Assignment, 'experiments'>): Promise<RankedList> {
    const assigned = this.variantOf(assignment, ALGORITHM_BAGGAGE_KEY) ?? 'control';
    const algorithm: Algorithm = isAlgorithm(assigned) ? assigned : 'control';
    const boost = this.variantOf(assignment, BOOST_BAGGAGE_KEY) ?? 'control';
    const attributes: Attributes = {};
    // This request's cache lookups, on its request span: the cache hit rate with the user as the unit.
    const tally: CacheTally = { hits: 0, misses: 0 };
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
    const input = this.gather(effective, features, tally);
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

  getArticle(contentId: string): Article | undefined {
    return dbQuery(this.tracer, 'SELECT', 'articles', 'SELECT articles WHERE content_id = ?', () => this.content.getArticle(contentId));
  }

  /** Every topic with its number of articles. */
  topics(): TopicCount[] {
    return dbQuery(this.tracer, 'SELECT', 'articles', 'SELECT topic, count(*) FROM articles GROUP BY topic', () => this.content.topics());
  }

  /** The newest articles of a topic; empty when no article has that topic. */
  newestInTopic(topic: string, limit: number): Article[] {
    return dbQuery(this.tracer, 'SELECT', 'articles', 'SELECT articles WHERE topic = ? ORDER BY published_at DESC LIMIT ?', () => this.content.newestInTopic(topic, limit));
  }

  private async userFeatures(userId: string, tally: CacheTally): Promise<UserFeatures> {
    const cached = this.cacheLookup('features', [userId], this.featureCache, tally);
    if (cached.misses.length === 0) return cached.found.get(userId)!;
    const features = await this.features.get(userId);
    this.featureCache.set(userId, features);
    return features;
  }

  /** One `cache.get` span for a batch of keys, with hits and misses on it. */
  private cacheLookup<V>(name: string, keys: readonly string[], cache: LruCache<V>, tally: CacheTally): { found: Map<string, V>; misses: string[] } {
    return inSpan(this.tracer, `cache.get ${name}`, { kind: SpanKind.CLIENT, attributes: { 'cache.name': name, 'db.system.name': 'in-memory-lru' } }, (span) => {
      const found = new Map<string, V>();
      const misses: string[] = [];
      for (const key of keys) {
        const value = cache.get(key);
        if (value === undefined) misses.push(key);
        else found.set(key, value);
      }
      span.setAttribute('cache.hits', found.size);
      span.setAttribute('cache.misses', misses.length);
      tally.hits += found.size;
      tally.misses += misses.length;
      span.setAttribute('cache.hit', misses.length === 0);
      return { found, misses };
    });
  }

  /**
   * Candidate pools are shared by all visitors and almost always cached; they are memoized
   * without a span of their own (the database span shows the refreshes), which keeps the
   * per-request span count down where it costs throughput.
   */
  private pool(key: string, load: () => Article[]): Article[] {
    const cached = this.poolCache.get(key);
    if (cached !== undefined) return cached;
    const loaded = load();
    this.poolCache.set(key, loaded);
    return loaded;
  }

  private popularPool(): Article[] {
    return this.pool('popular', () => {
      const popular = dbQuery(this.tracer, 'SELECT', 'articles', 'SELECT articles ORDER BY popularity DESC LIMIT ?', () => this.content.popular(POPULAR_POOL));
      const recent = dbQuery(this.tracer, 'SELECT', 'articles', 'SELECT articles ORDER BY published_at DESC LIMIT ?', () => this.content.recent(RECENT_POOL));
      const byId = new Map([...popular, ...recent].map((a) => [a.contentId, a]));
      return [...byId.values()];
    });
  }

  private neighbours(items: readonly string[], tally: CacheTally): Map<string, [string, number][]> {
    const { found, misses } = this.cacheLookup('neighbours', items, this.neighbourCache, tally);
    if (misses.length > 0) {
      const loaded = dbQuery(this.tracer, 'SELECT', 'neighbours', 'SELECT neighbours WHERE item IN (?) ranked per item', () => this.content.neighbours(misses, NEIGHBOURS_PER_ITEM));
      for (const item of misses) {
        const list = loaded.get(item) ?? [];
        this.neighbourCache.set(item, list);
        found.set(item, list);
      }
    }
    return found;
  }

  private articles(ids: readonly string[], tally: CacheTally): Article[] {
    const { found, misses } = this.cacheLookup('articles', ids, this.articleCache, tally);
    if (misses.length > 0) {
      for (const article of dbQuery(this.tracer, 'SELECT', 'articles', 'SELECT articles WHERE content_id IN (?)', () => this.content.articlesByIds(misses))) {
        this.articleCache.set(article.contentId, article);
        found.set(article.contentId, article);
      }
    }
    return [...found.values()];
  }

  /** The data each algorithm needs: more of it, from more places, for the richer algorithms. */
  private gather(algorithm: Algorithm, features: UserFeatures, tally: CacheTally): RecommendationInput {
    const pool = this.popularPool();
    let newest = this.newestOfPool.get(pool);
    // With no wall clock to cap it (Infinity), the catalogue's clock is the pool's newest date.
    if (newest === undefined) this.newestOfPool.set(pool, (newest = catalogueClockMs(pool, Infinity)));
    const base: RecommendationInput = {
      candidates: pool,
      history: features.history,
      topicAffinity: features.topicAffinity,
      tagAffinity: features.tagAffinity,
      neighbours: new Map(),
      // The pool holds the catalogue's RECENT_POOL newest articles, so its newest is the
      // catalogue's: ages are measured from there, not from the wall clock (see catalogueClockMs).
      nowMs: Math.min(newest, Date.now()),
    };
    if (algorithm === 'control') return base;
    const neighbours = this.neighbours(features.history.slice(-HISTORY_WINDOW), tally);
    const ids = new Set<string>();
    for (const list of neighbours.values()) for (const [id] of list) ids.add(id);
    const candidates = new Map(base.candidates.map((a) => [a.contentId, a]));
    for (const article of this.articles([...ids].filter((id) => !candidates.has(id)), tally)) candidates.set(article.contentId, article);
    if (algorithm === 'hybrid') {
      const topics = Object.entries(features.topicAffinity).sort((a, b) => b[1] - a[1]).slice(0, HYBRID_TOPICS).map(([topic]) => topic);
      for (const topic of topics) {
        const inTopic = this.pool(`topic:${topic}`, () =>
          dbQuery(this.tracer, 'SELECT', 'articles', 'SELECT articles WHERE topic = ? ORDER BY popularity DESC LIMIT ?', () => this.content.popularInTopic(topic, TOPIC_POOL)),
        );
        for (const article of inTopic) candidates.set(article.contentId, article);
      }
    }
    return { ...base, candidates: [...candidates.values()], neighbours };
  }
}
