import { describe, expect, it } from 'vitest';
import { coOccurrence, generateAudience, generatedUserId } from '../../src/demo/catalogue/audience.js';
import { TOPICS, generateCatalogue } from '../../src/demo/catalogue/catalogue.js';

const SEED = 42;
const USER_COUNT = 500;

describe('generatedUserId', () => {
  it.each([
    [1, 'u00001'],
    [42, 'u00042'],
    [12_345, 'u12345'],
  ])('%i → %s', (index, expected) => {
    expect(generatedUserId(index)).toBe(expected);
  });
});

describe('generateAudience', () => {
  const catalogue = generateCatalogue(2000, SEED);
  const byId = new Map(catalogue.map((a) => [a.contentId, a]));
  const audience = generateAudience(USER_COUNT, catalogue, SEED + 1);

  it('is reproducible for a seed and differs between seeds', () => {
    expect(generateAudience(USER_COUNT, catalogue, SEED + 1)).toEqual(audience);
    const other = generateAudience(USER_COUNT, catalogue, SEED + 2);
    expect(other).not.toEqual(audience);
    const sameHistory = other.filter((u, i) => u.history.join() === audience[i]!.history.join());
    expect(sameHistory.length).toBeLessThan(USER_COUNT / 100);
  });

  it('produces the requested number of users with ids u00001 onwards', () => {
    expect(audience).toHaveLength(USER_COUNT);
    expect(audience.map((u) => u.userId)).toEqual(Array.from({ length: USER_COUNT }, (_, i) => generatedUserId(i + 1)));
    expect(audience[0]!.userId).toBe('u00001');
    expect(audience.at(-1)!.userId).toBe('u00500');
    expect(generateAudience(0, catalogue, SEED)).toEqual([]);
  });

  it('gives histories of 3 to 40 distinct, known articles', () => {
    for (const user of audience) {
      expect(user.history.length).toBeGreaterThanOrEqual(3);
      expect(user.history.length).toBeLessThanOrEqual(40);
      expect(new Set(user.history).size).toBe(user.history.length);
      for (const id of user.history) expect(byId.has(id)).toBe(true);
    }
    // Lengths are spread over the range, not all at one end.
    const lengths = new Set(audience.map((u) => u.history.length));
    expect(lengths.size).toBeGreaterThan(20);
  });

  it('gives every user a preference for each topic, in [0, 1] and summing to 1', () => {
    for (const user of audience) {
      expect(Object.keys(user.preferences).sort()).toEqual([...TOPICS].sort());
      for (const value of Object.values(user.preferences)) {
        expect(value).toBeGreaterThan(0);
        expect(value).toBeLessThanOrEqual(1);
      }
      expect(Object.values(user.preferences).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    }
  });

  it('concentrates clicks on each user’s two favourite topics', () => {
    const shares = audience.map((user) => {
      const favourites = Object.entries(user.preferences)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 2)
        .map(([topic]) => topic);
      return user.history.filter((id) => favourites.includes(byId.get(id)!.topic)).length / user.history.length;
    });
    // Two favourites hold about three quarters of the preference mass; two random topics of
    // eight would get a quarter of the clicks.
    expect(shares.reduce((a, b) => a + b, 0) / shares.length).toBeGreaterThan(0.5);
  });

  it('clicks popular articles more often than the catalogue average, so histories share items', () => {
    const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const clicked = audience.flatMap((u) => u.history);
    expect(mean(clicked.map((id) => byId.get(id)!.popularity))).toBeGreaterThan(mean(catalogue.map((a) => a.popularity)));
    expect(new Set(clicked).size).toBeLessThan(clicked.length);
  });
});

describe('coOccurrence', () => {
  // Insertion orders are deliberately not alphabetical, so tie-breaking by id is visible.
  const histories = [['c', 'b', 'a'], ['a', 'b'], ['d', 'c', 'b'], ['e']];

  it('counts each pair once per history that holds both, strongest first, ties by id', () => {
    expect(coOccurrence(histories, 10)).toEqual(
      new Map([
        ['c', [['b', 2], ['a', 1], ['d', 1]]],
        ['b', [['a', 2], ['c', 2], ['d', 1]]],
        ['a', [['b', 2], ['c', 1]]],
        ['d', [['b', 1], ['c', 1]]],
        ['e', []],
      ]),
    );
  });

  it('is symmetric before truncation', () => {
    const all = coOccurrence(histories, 10);
    for (const [item, list] of all) {
      for (const [other, count] of list) expect(all.get(other)!.find(([id]) => id === item)?.[1]).toBe(count);
    }
  });

  it('keeps at most perItem neighbours, dropping the weakest', () => {
    const truncated = coOccurrence(histories, 2);
    expect(truncated.get('b')).toEqual([['a', 2], ['c', 2]]);
    expect(truncated.get('c')).toEqual([['b', 2], ['a', 1]]);
    expect(truncated.get('a')).toEqual([['b', 2], ['c', 1]]);
    expect(coOccurrence(histories, 0).get('b')).toEqual([]);
  });

  it('has no entries for no histories', () => {
    expect(coOccurrence([], 5).size).toBe(0);
  });
});
