import type { Tracer } from '@opentelemetry/api';
import type { Article } from '../catalogue/catalogue.js';
import type { ContentStore } from '../catalogue/content-store.js';
import type { UserFeatures } from '../feature-store/feature-client.js';
import type { RecommendationCacheConfig } from './cache-config.js';
import { LruCache } from './lru-cache.js';
import { catalogueClockMs, type Algorithm, type RecommendationInput } from './recommenders.js';
import { cacheLookup, type CacheTally } from './traced-cache.js';
import { dbQuery } from './traced.js';

/** Candidate pool sizes: enough that exclusions and re-ranking never run a list dry. */
export const POPULAR_POOL = 300;
export const RECENT_POOL = 100;
export const TOPIC_POOL = 120;
export const NEIGHBOURS_PER_ITEM = 20;
/** History items the collaborative step looks at: the most recent ones. */
export const HISTORY_WINDOW = 20;
/** Hybrid draws content candidates from the visitor's strongest topics. */
export const HYBRID_TOPICS = 2;
/** Shared candidate pools kept: the popular one and one per topic. */
const MAX_POOLS = 64;

/**
 * What each algorithm ranks: candidates and neighbours from the content database behind
 * bounded caches, more of it, from more places, for the richer algorithms.
 */
export class CandidateSource {
  private readonly poolCache: LruCache<Article[]>;
  /** The newest publish date of each pool the cache handed out: a pool is shared, so it is found once, not per request. */
  private readonly newestOfPool = new WeakMap<readonly Article[], number>();
  private readonly neighbourCache: LruCache<[string, number][]>;
  private readonly articleCache: LruCache<Article>;

  constructor(
    private readonly content: ContentStore,
    private readonly tracer: Tracer,
    cache: RecommendationCacheConfig,
  ) {
    this.poolCache = new LruCache(MAX_POOLS, cache.contentTtlMs);
    this.neighbourCache = new LruCache(cache.maxContentEntries, cache.contentTtlMs);
    this.articleCache = new LruCache(cache.maxContentEntries, cache.contentTtlMs);
  }

  /** The data `algorithm` needs for a visitor with `features`; lookups are counted in `tally`. */
  gather(algorithm: Algorithm, features: UserFeatures, tally: CacheTally): RecommendationInput {
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
    const { found, misses } = cacheLookup(this.tracer, 'neighbours', items, this.neighbourCache, tally);
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
    const { found, misses } = cacheLookup(this.tracer, 'articles', ids, this.articleCache, tally);
    if (misses.length > 0) {
      for (const article of dbQuery(this.tracer, 'SELECT', 'articles', 'SELECT articles WHERE content_id IN (?)', () => this.content.articlesByIds(misses))) {
        this.articleCache.set(article.contentId, article);
        found.set(article.contentId, article);
      }
    }
    return [...found.values()];
  }
}
