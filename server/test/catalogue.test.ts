import { describe, expect, it } from 'vitest';
import { CATALOGUE_EPOCH, TOPICS, generateCatalogue, seededRandom } from '../src/core/catalogue.js';

const DAY_MS = 86_400_000;
const ARTICLE_COUNT = 2000;

describe('seededRandom', () => {
  it('repeats its sequence for a seed and stays in [0, 1)', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const first = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(first);
    for (const x of first) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
    expect(new Set(first).size).toBeGreaterThan(990);
  });

  it('gives different sequences for different seeds', () => {
    const a = seededRandom(1);
    const b = seededRandom(2);
    expect(Array.from({ length: 10 }, () => a())).not.toEqual(Array.from({ length: 10 }, () => b()));
  });
});

describe('generateCatalogue', () => {
  const catalogue = generateCatalogue(ARTICLE_COUNT, 42);

  it('is reproducible for a seed', () => {
    expect(generateCatalogue(ARTICLE_COUNT, 42)).toEqual(catalogue);
  });

  it('differs between seeds', () => {
    const other = generateCatalogue(ARTICLE_COUNT, 43);
    expect(other).not.toEqual(catalogue);
    const sameTitle = other.filter((a, i) => a.title === catalogue[i]!.title && a.publishedAt === catalogue[i]!.publishedAt);
    // A handful may coincide by chance (8 openers x 48 subjects x 365 days); most must not.
    expect(sameTitle.length).toBeLessThan(ARTICLE_COUNT / 100);
  });

  it('makes the requested number of articles with unique, ordered ids', () => {
    expect(catalogue).toHaveLength(ARTICLE_COUNT);
    const ids = catalogue.map((a) => a.contentId);
    expect(new Set(ids).size).toBe(ARTICLE_COUNT);
    expect(ids[0]).toBe('a00001');
    expect(ids.at(-1)).toBe('a02000');
    expect(generateCatalogue(0, 42)).toEqual([]);
  });

  it('fills every field of every article', () => {
    const oldest = CATALOGUE_EPOCH - 365 * DAY_MS;
    for (const article of catalogue) {
      expect(article.title.length).toBeGreaterThan(0);
      expect(article.title[0]).toBe(article.title[0]!.toUpperCase());
      expect(TOPICS).toContain(article.topic);
      expect(article.tags.length).toBeGreaterThanOrEqual(1);
      expect(new Set(article.tags).size).toBe(article.tags.length);
      for (const tag of article.tags) expect(tag).toMatch(/^[a-z-]+$/);
      const published = Date.parse(article.publishedAt);
      expect(new Date(published).toISOString()).toBe(article.publishedAt);
      expect(published).toBeLessThanOrEqual(CATALOGUE_EPOCH);
      expect(published).toBeGreaterThan(oldest);
      expect(Number.isInteger(article.popularity)).toBe(true);
      expect(article.popularity).toBeGreaterThanOrEqual(10);
      expect(article.summary).toContain(article.topic);
      expect(article.body).toHaveLength(3);
      for (const paragraph of article.body) expect(paragraph.length).toBeGreaterThan(0);
    }
  });

  it('spreads articles over every topic and a year of dates', () => {
    const topics = new Set(catalogue.map((a) => a.topic));
    expect([...topics].sort()).toEqual([...TOPICS].sort());
    const days = new Set(catalogue.map((a) => a.publishedAt.slice(0, 10)));
    expect(days.size).toBeGreaterThan(300);
  });

  it('has a few very popular articles and many ordinary ones', () => {
    const popularity = catalogue.map((a) => a.popularity).sort((x, y) => x - y);
    const median = popularity[Math.floor(popularity.length / 2)]!;
    const max = popularity.at(-1)!;
    expect(max).toBeGreaterThan(median * 10);
  });
});
