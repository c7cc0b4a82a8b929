import { describe, expect, it } from 'vitest';
import { pick, pickDistinct, seededRandom } from '../src/seeded-random.js';

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

describe('pick and pickDistinct', () => {
  it('pick takes one draw and reaches every item', () => {
    const random = seededRandom(3);
    const seen = new Set(Array.from({ length: 200 }, () => pick(random, ['a', 'b', 'c', 'd'])));
    expect([...seen].sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it.each([
    [0, 0],
    [3, 3],
    [5, 5],
    [9, 5],
  ])('pickDistinct of %i from five gives %i distinct items', (count, expected) => {
    const chosen = pickDistinct(seededRandom(count), [1, 2, 3, 4, 5], count);
    expect(chosen).toHaveLength(expected);
    expect(new Set(chosen).size).toBe(expected);
  });
});
