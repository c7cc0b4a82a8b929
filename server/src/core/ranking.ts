/**
 * Ranking of articles for a visitor, one scorer per variant. Pure: the caller supplies the
 * candidates and the visitor's topic preferences.
 */
import type { Article } from './catalogue.js';

/** What a scorer knows about the visitor. */
export interface Visitor {
  /** Topic → preference weight in [0, 1]. */
  readonly topicAffinity: Readonly<Record<string, number>>;
  /** Articles the visitor already read; never recommended again. */
  readonly seen: ReadonlySet<string>;
}

const DAY_MS = 86_400_000;
/** Freshness half-life for the control ranking: a month-old article counts half. */
const CONTROL_HALF_LIFE_DAYS = 30;
/** recency_boost re-ranks with a much shorter half-life. */
const BOOST_HALF_LIFE_DAYS = 7;

function decay(article: Article, nowMs: number, halfLifeDays: number): number {
  const ageDays = Math.max(0, (nowMs - Date.parse(article.publishedAt)) / DAY_MS);
  return Math.pow(0.5, ageDays / halfLifeDays);
}

type Scorer = (article: Article, visitor: Visitor, nowMs: number) => number;

const SCORERS: Record<string, Scorer> = {
  control: (a, _v, now) => Math.log1p(a.popularity) * decay(a, now, CONTROL_HALF_LIFE_DAYS),
  collaborative: (a, v, now) =>
    Math.log1p(a.popularity) * (v.topicAffinity[a.topic] ?? 0) * decay(a, now, CONTROL_HALF_LIFE_DAYS * 4),
  hybrid: (a, v, now) =>
    Math.log1p(a.popularity) * (0.5 + (v.topicAffinity[a.topic] ?? 0)) * decay(a, now, CONTROL_HALF_LIFE_DAYS * 2),
};

/** Variants of the ranking experiment that re-rank the list. */
export type RankingBoost = 'control' | 'recency_boost' | string;

/**
 * The top `limit` articles for a visitor under an algorithm variant and a ranking variant.
 * Unknown algorithm variants fall back to `control`.
 */
export function rankArticles(
  candidates: readonly Article[],
  visitor: Visitor,
  algorithm: string,
  boost: RankingBoost,
  limit: number,
  nowMs: number,
): Article[] {
  const score = Object.hasOwn(SCORERS, algorithm) ? SCORERS[algorithm]! : SCORERS.control!;
  const count = Math.max(0, Math.floor(limit));
  const scored = candidates
    .filter((a) => !visitor.seen.has(a.contentId))
    .map((article) => ({ article, score: score(article, visitor, nowMs) }));
  scored.sort((x, y) => y.score - x.score || x.article.contentId.localeCompare(y.article.contentId));
  const top = scored.slice(0, count * 3);
  if (boost === 'recency_boost') {
    for (const entry of top) entry.score *= decay(entry.article, nowMs, BOOST_HALF_LIFE_DAYS) + 0.1;
    top.sort((x, y) => y.score - x.score || x.article.contentId.localeCompare(y.article.contentId));
  }
  return top.slice(0, count).map((entry) => entry.article);
}
