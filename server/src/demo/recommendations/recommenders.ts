/**
 * The recommendation algorithms, one per variant, as pure functions of the data the
 * service fetched: candidates, the visitor's history and profile, and item neighbours.
 */
import type { Article } from '../catalogue/catalogue.js';

/** What the service gathers for one request. */
export interface RecommendationInput {
  /** Articles that may be recommended (already-clicked ones are removed here). */
  readonly candidates: readonly Article[];
  /** Content ids the visitor clicked, most recent last. */
  readonly history: readonly string[];
  /** Topic → preference (from the feature store); empty for a new visitor. */
  readonly topicAffinity: Readonly<Record<string, number>>;
  /** Tag → weight of the visitor's history (from the feature store). */
  readonly tagAffinity: Readonly<Record<string, number>>;
  /** Item → items co-clicked with it and how often (for the visitor's history items). */
  readonly neighbours: ReadonlyMap<string, readonly (readonly [string, number])[]>;
  /** Milliseconds since the epoch that ages are measured from: the catalogue's clock (`catalogueClockMs`). */
  readonly nowMs: number;
}

export type Algorithm = 'control' | 'collaborative' | 'hybrid';

const DAY_MS = 86_400_000;
/** Control's freshness half-life: a month-old article counts half. */
export const CONTROL_HALF_LIFE_DAYS = 30;
/** recency_boost's much shorter half-life. */
export const BOOST_HALF_LIFE_DAYS = 7;
/** Hybrid: share of the content-similarity score in the blend (the rest is collaborative). */
export const HYBRID_CONTENT_WEIGHT = 0.5;

/** Parsed publish dates; a catalogue has few distinct ones, and parsing is the hot part of ranking. */
const publishedMs = new Map<string, number>();
const MAX_REMEMBERED_DATES = 100_000;

function publishedAtMs(article: Article): number {
  let ms = publishedMs.get(article.publishedAt);
  if (ms === undefined) {
    if (publishedMs.size >= MAX_REMEMBERED_DATES) publishedMs.clear();
    ms = Date.parse(article.publishedAt);
    publishedMs.set(article.publishedAt, ms);
  }
  return ms;
}

/**
 * The time that article ages are measured from: the newest publish date among `articles`
 * (pass a set that holds the catalogue's newest ones), or `wallClockMs` when that is earlier
 * (an article dated ahead of the clock counts as new, not as newer than new).
 *
 * Not the wall clock itself: a catalogue that stops being published to (the generated one
 * stops at its epoch) would age as a whole while the server runs. Control would not notice,
 * since a common age factor scales every score alike, but recency_boost would: three weeks on
 * its freshness term is below the gap between neighbouring positions and its arm is served
 * exactly control's list. In a live catalogue the newest article is minutes old, so this is
 * the wall clock to within minutes.
 */
export function catalogueClockMs(articles: readonly Article[], wallClockMs: number): number {
  let newest = -Infinity;
  for (const article of articles) {
    const ms = publishedAtMs(article);
    if (ms > newest) newest = ms;
  }
  return newest === -Infinity ? wallClockMs : Math.min(newest, wallClockMs);
}

/** 0.5^(age / half-life): 1 for a new article, ½ at one half-life. */
export function freshness(article: Article, nowMs: number, halfLifeDays: number): number {
  const ageDays = Math.max(0, (nowMs - publishedAtMs(article)) / DAY_MS);
  return Math.pow(0.5, ageDays / halfLifeDays);
}

type Scores = Map<string, number>;

/** control: popularity (log-damped) times freshness. */
export function popularityScores(input: RecommendationInput): Scores {
  const scores: Scores = new Map();
  for (const article of input.candidates) {
    scores.set(article.contentId, Math.log1p(article.popularity) * freshness(article, input.nowMs, CONTROL_HALF_LIFE_DAYS));
  }
  return scores;
}

/**
 * collaborative: how often each item was co-clicked with the visitor's history items. Items
 * already in the history get no score, so they never weigh on a normalization.
 */
export function collaborativeScores(input: RecommendationInput): Scores {
  const history = new Set(input.history);
  const scores: Scores = new Map();
  for (const item of input.history) {
    for (const [other, count] of input.neighbours.get(item) ?? []) {
      if (!history.has(other)) scores.set(other, (scores.get(other) ?? 0) + count);
    }
  }
  return scores;
}

/** Content similarity: the visitor's topic and tag weights against each candidate's. */
export function contentScores(input: RecommendationInput): Scores {
  const scores: Scores = new Map();
  for (const article of input.candidates) {
    let score = input.topicAffinity[article.topic] ?? 0;
    for (const tag of article.tags) score += 0.5 * (input.tagAffinity[tag] ?? 0);
    if (score > 0) scores.set(article.contentId, score);
  }
  return scores;
}

/**
 * Each candidate's reciprocal rank under `scores`: 1 for the best-scored candidates, ½ where
 * one candidate scores higher, ⅓ where two do, and so on; equal scores share a rank, and a
 * candidate without a score gets none. Only `candidates` are ranked, so an item that cannot
 * be recommended never pushes one that can down.
 */
function reciprocalRanks(scores: Scores, candidates: readonly Article[]): Scores {
  const scored: [string, number][] = [];
  for (const article of candidates) {
    const score = scores.get(article.contentId) ?? 0;
    if (score > 0) scored.push([article.contentId, score]);
  }
  scored.sort((a, b) => b[1] - a[1]);
  const ranks: Scores = new Map();
  let higher = 0;
  for (const [index, [id, score]] of scored.entries()) {
    if (index > 0 && score < scored[index - 1]![1]) higher = index;
    ranks.set(id, 1 / (1 + higher));
  }
  return ranks;
}

/**
 * hybrid: a blend of the content-similarity and collaborative rankings, each signal counted
 * as a reciprocal rank over hybrid's candidates.
 *
 * Why ranks, and reciprocal ones: the raw scores do not compare. Topic affinity dominates
 * content similarity, so scaled by its maximum it stays near 1 (mostly above 0.9) across a
 * whole favourite topic, a near-constant that left the order to the co-click counts. And
 * co-clicks are sparse: only co-clicked items have any, and on the served data they sit on
 * the visitor's favourite topics, so they score high on content too. A linear blend (of
 * max-normalized scores, as before, or of linear ranks) then gives every co-clicked item both
 * halves and every other item one: on the server's data neither ever showed an article that
 * is not co-clicked, and the old one shared three quarters of collaborative's list (see the
 * tests' measurements). A reciprocal rank is top-heavy:
 * being the best on one signal is worth as much as being second on both, so the list holds
 * the best of each signal, with items strong in both first.
 */
export function hybridScores(input: RecommendationInput): Scores {
  const content = reciprocalRanks(contentScores(input), input.candidates);
  const collaborative = reciprocalRanks(collaborativeScores(input), input.candidates);
  const scores: Scores = new Map();
  for (const key of new Set([...content.keys(), ...collaborative.keys()])) {
    scores.set(key, HYBRID_CONTENT_WEIGHT * (content.get(key) ?? 0) + (1 - HYBRID_CONTENT_WEIGHT) * (collaborative.get(key) ?? 0));
  }
  return scores;
}

const SCORERS: Record<Algorithm, (input: RecommendationInput) => Scores> = {
  control: popularityScores,
  collaborative: collaborativeScores,
  hybrid: hybridScores,
};

/** True for a known algorithm name (own keys only, so `toString` is not one). */
export function isAlgorithm(name: string): name is Algorithm {
  return Object.hasOwn(SCORERS, name);
}

/** Higher score first; equal scores by content id, so rankings are deterministic. */
function before(scoreA: number, a: Article, scoreB: number, b: Article): boolean {
  return scoreA > scoreB || (scoreA === scoreB && a.contentId < b.contentId);
}

/**
 * The `count` best-scored articles with a score above zero, best first: a bounded insertion
 * into a short list, instead of sorting every candidate for the ten that are shown.
 */
function topScored(candidates: readonly Article[], scores: Scores, count: number, exclude: ReadonlySet<string>): Article[] {
  const best: Article[] = [];
  const bestScores: number[] = [];
  for (const article of candidates) {
    const score = scores.get(article.contentId) ?? 0;
    if (score <= 0 || exclude.has(article.contentId)) continue;
    if (best.length === count && !before(score, article, bestScores[count - 1]!, best[count - 1]!)) continue;
    let at = best.length === count ? count - 1 : best.length;
    while (at > 0 && before(score, article, bestScores[at - 1]!, best[at - 1]!)) {
      best[at] = best[at - 1]!;
      bestScores[at] = bestScores[at - 1]!;
      at -= 1;
    }
    best[at] = article;
    bestScores[at] = score;
  }
  return best;
}

/**
 * The top `limit` articles for an algorithm, never one the visitor already clicked. When an
 * algorithm has too few scored candidates (a new visitor has no history), the list is
 * filled with control's ranking, so it is always full.
 */
export function recommend(algorithm: Algorithm, input: RecommendationInput, limit: number): Article[] {
  const count = Math.max(0, Math.floor(limit));
  if (count === 0) return [];
  const seen = new Set(input.history);
  const candidates = input.candidates.filter((a) => !seen.has(a.contentId));
  const picked = topScored(candidates, SCORERS[algorithm]({ ...input, candidates }), count, seen);
  if (picked.length < count) {
    const taken = new Set([...seen, ...picked.map((a) => a.contentId)]);
    picked.push(...topScored(candidates, popularityScores({ ...input, candidates }), count - picked.length, taken));
  }
  return picked;
}

/**
 * recency_boost: re-ranks a list by its order blended with a short-half-life freshness, so
 * new articles move up without new ones entering. `nowMs` is the catalogue's clock
 * (`catalogueClockMs`): the blend only works while the newest articles' freshness is
 * comparable to the 1/n step between positions.
 */
export function recencyBoost(list: readonly Article[], nowMs: number): Article[] {
  const n = list.length;
  const score = (article: Article, index: number) => (n - index) / n + freshness(article, nowMs, BOOST_HALF_LIFE_DAYS);
  return list
    .map((article, index) => ({ article, score: score(article, index) }))
    .sort((a, b) => b.score - a.score || (a.article.contentId < b.article.contentId ? -1 : 1))
    .map((entry) => entry.article);
}
