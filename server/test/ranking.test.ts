import { describe, expect, it } from 'vitest';
import { CATALOGUE_EPOCH, TOPICS, generateCatalogue, type Article } from '../src/core/catalogue.js';
import { rankArticles, type Visitor } from '../src/core/ranking.js';

const DAY_MS = 86_400_000;
const NOW = CATALOGUE_EPOCH;
const catalogue = generateCatalogue(2000, 42);

function visitor(topicAffinity: Record<string, number> = {}, seen: Iterable<string> = []): Visitor {
  return { topicAffinity, seen: new Set(seen) };
}

function article(contentId: string, popularity: number, ageDays: number, topic = 'science'): Article {
  return {
    contentId,
    title: contentId,
    topic,
    tags: ['news'],
    publishedAt: new Date(NOW - ageDays * DAY_MS).toISOString(),
    popularity,
    summary: contentId,
    body: [contentId],
  };
}

const ids = (articles: readonly Article[]) => articles.map((a) => a.contentId);

describe('rankArticles', () => {
  it.each([0, 1, 5, 10, 50])('returns exactly %i articles when there are enough', (limit) => {
    expect(rankArticles(catalogue, visitor(), 'control', 'control', limit, NOW)).toHaveLength(limit);
  });

  it('returns every candidate when the limit exceeds them, best first', () => {
    const candidates = [article('low', 10, 0), article('high', 1000, 0)];
    expect(ids(rankArticles(candidates, visitor(), 'control', 'control', 10, NOW))).toEqual(['high', 'low']);
  });

  it('never recommends an article the visitor has seen, and still fills the list', () => {
    const unseen = rankArticles(catalogue, visitor(), 'control', 'control', 20, NOW);
    const seen = ids(unseen.slice(0, 10));
    const ranked = rankArticles(catalogue, visitor({}, seen), 'control', 'control', 20, NOW);
    expect(ranked).toHaveLength(20);
    for (const id of ids(ranked)) expect(seen).not.toContain(id);
    // The unseen rest moves up in order.
    expect(ids(ranked).slice(0, 10)).toEqual(ids(unseen.slice(10, 20)));
  });

  it('returns nothing when everything has been seen', () => {
    const candidates = [article('a', 10, 1), article('b', 10, 2)];
    expect(rankArticles(candidates, visitor({}, ['a', 'b']), 'hybrid', 'recency_boost', 5, NOW)).toEqual([]);
  });

  it('recency_boost moves a fresher article above an older, more popular one', () => {
    // control: log1p(2000) * 0.5^(10/30) = 6.03 beats log1p(200) * 1 = 5.30;
    // recency_boost multiplies by 0.5^(age/7) + 0.1: 6.03 * 0.47 = 2.85 against 5.30 * 1.1 = 5.83.
    const candidates = [article('old-hit', 2000, 10), article('fresh', 200, 0), article('stale', 100, 60)];
    expect(ids(rankArticles(candidates, visitor(), 'control', 'control', 3, NOW))).toEqual(['old-hit', 'fresh', 'stale']);
    expect(ids(rankArticles(candidates, visitor(), 'control', 'recency_boost', 3, NOW))).toEqual(['fresh', 'old-hit', 'stale']);
  });

  it('recency_boost makes the served list fresher on the whole catalogue', () => {
    const meanAge = (articles: readonly Article[]) =>
      articles.reduce((sum, a) => sum + (NOW - Date.parse(a.publishedAt)), 0) / articles.length / DAY_MS;
    const plain = rankArticles(catalogue, visitor(), 'control', 'control', 10, NOW);
    const boosted = rankArticles(catalogue, visitor(), 'control', 'recency_boost', 10, NOW);
    expect(meanAge(boosted)).toBeLessThan(meanAge(plain));
  });

  it('treats an unknown ranking boost like control', () => {
    const candidates = [article('old-hit', 2000, 10), article('fresh', 200, 0)];
    expect(rankArticles(candidates, visitor(), 'control', 'something_else', 2, NOW)).toEqual(
      rankArticles(candidates, visitor(), 'control', 'control', 2, NOW),
    );
  });

  it.each(['unknown_algorithm', '', 'CONTROL'])('falls back to control for the unknown algorithm %j', (algorithm) => {
    const v = visitor({ science: 1 });
    expect(ids(rankArticles(catalogue, v, algorithm, 'control', 10, NOW))).toEqual(
      ids(rankArticles(catalogue, v, 'control', 'control', 10, NOW)),
    );
  });

  it('gives different lists for the three algorithms', () => {
    const v = visitor({ science: 1, food: 0.2 });
    const lists = ['control', 'collaborative', 'hybrid'].map((algorithm) =>
      ids(rankArticles(catalogue, v, algorithm, 'control', 10, NOW)).join(','),
    );
    expect(new Set(lists).size).toBe(3);
  });

  it('collaborative follows the visitor’s topics; control ignores them', () => {
    for (const topic of TOPICS) {
      const v = visitor({ [topic]: 1 });
      const collaborative = rankArticles(catalogue, v, 'collaborative', 'control', 10, NOW);
      for (const a of collaborative) expect(a.topic).toBe(topic);
    }
    expect(ids(rankArticles(catalogue, visitor({ science: 1 }), 'control', 'control', 10, NOW))).toEqual(
      ids(rankArticles(catalogue, visitor({ sport: 1 }), 'control', 'control', 10, NOW)),
    );
  });

  it('is deterministic, breaking ties by content id', () => {
    const twins = [article('b', 50, 3), article('a', 50, 3), article('c', 50, 3)];
    expect(ids(rankArticles(twins, visitor(), 'control', 'recency_boost', 3, NOW))).toEqual(['a', 'b', 'c']);
    expect(rankArticles(catalogue, visitor({ food: 0.5 }), 'hybrid', 'recency_boost', 10, NOW)).toEqual(
      rankArticles(catalogue, visitor({ food: 0.5 }), 'hybrid', 'recency_boost', 10, NOW),
    );
  });

  it('does not reorder the caller’s candidates', () => {
    const candidates = [article('low', 10, 0), article('high', 1000, 0)];
    rankArticles(candidates, visitor(), 'control', 'recency_boost', 2, NOW);
    expect(ids(candidates)).toEqual(['low', 'high']);
  });
});

describe('rankArticles edge cases', () => {
  const articles = generateCatalogue(50, 7);
  const visitor = { topicAffinity: {}, seen: new Set<string>() };
  const now = Date.parse('2026-11-01T00:00:00Z');

  it.each(['toString', 'constructor', '__proto__', 'hasOwnProperty'])('treats the inherited name %s as an unknown algorithm (control)', (name) => {
    expect(rankArticles(articles, visitor, name, 'control', 5, now)).toEqual(rankArticles(articles, visitor, 'control', 'control', 5, now));
  });

  it('returns nothing for a negative limit', () => {
    expect(rankArticles(articles, visitor, 'control', 'control', -1, now)).toEqual([]);
  });
});
