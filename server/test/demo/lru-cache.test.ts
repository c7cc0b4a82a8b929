import { describe, expect, it } from 'vitest';
import { LruCache } from '../../src/demo/recommendations/lru-cache.js';

const LONG_TTL_MS = 1_000_000;

/** A clock the test moves by hand. */
function manualClock(start = 0): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe('LruCache', () => {
  it('keeps nothing with a time to live of 0', () => {
    const cache = new LruCache<number>(3, 0, manualClock().now);
    cache.set('a', 1);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('stores and returns values, and misses unknown keys', () => {
    const cache = new LruCache<number>(3, LONG_TTL_MS, manualClock().now);
    cache.set('a', 1);
    expect(cache.get('a')).toBe(1);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('overwrites a key without growing', () => {
    const cache = new LruCache<string>(3, LONG_TTL_MS, manualClock().now);
    cache.set('a', 'first');
    cache.set('a', 'second');
    expect(cache.get('a')).toBe('second');
    expect(cache.size).toBe(1);
  });

  it('evicts the least recently set entry when full', () => {
    const cache = new LruCache<number>(2, LONG_TTL_MS, manualClock().now);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.size).toBe(2);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBe(2);
    expect(cache.get('c')).toBe(3);
  });

  it('counts a get as a use, so a read entry survives the next eviction', () => {
    const cache = new LruCache<number>(2, LONG_TTL_MS, manualClock().now);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1);
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
  });

  it('counts an overwrite as a use', () => {
    const cache = new LruCache<number>(2, LONG_TTL_MS, manualClock().now);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('a', 10);
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(10);
  });

  it('never holds more than maxEntries', () => {
    const cache = new LruCache<number>(5, LONG_TTL_MS, manualClock().now);
    for (let i = 0; i < 100; i += 1) {
      cache.set(`k${i}`, i);
      expect(cache.size).toBeLessThanOrEqual(5);
    }
    expect([...Array(100).keys()].filter((i) => cache.get(`k${i}`) !== undefined)).toEqual([95, 96, 97, 98, 99]);
  });

  it('expires an entry once its time to live has passed', () => {
    const clock = manualClock(1_000);
    const cache = new LruCache<number>(3, 100, clock.now);
    cache.set('a', 1);
    clock.advance(99);
    expect(cache.get('a')).toBe(1);
    clock.advance(1);
    expect(cache.get('a')).toBeUndefined();
    // An expired entry is removed on read, not just hidden.
    expect(cache.size).toBe(0);
  });

  it('measures the time to live from the last write; reads do not extend it', () => {
    const clock = manualClock();
    const cache = new LruCache<number>(3, 100, clock.now);
    cache.set('a', 1);
    clock.advance(60);
    expect(cache.get('a')).toBe(1);
    clock.advance(60);
    expect(cache.get('a')).toBeUndefined();
    cache.set('a', 2);
    clock.advance(60);
    cache.set('a', 3);
    clock.advance(60);
    expect(cache.get('a')).toBe(3);
  });

  it('expires each entry on its own schedule', () => {
    const clock = manualClock();
    const cache = new LruCache<string>(3, 100, clock.now);
    cache.set('early', 'x');
    clock.advance(50);
    cache.set('late', 'y');
    clock.advance(60);
    expect(cache.get('early')).toBeUndefined();
    expect(cache.get('late')).toBe('y');
  });

  it('uses Date.now when no clock is given', () => {
    const cache = new LruCache<number>(1, LONG_TTL_MS);
    cache.set('a', 1);
    expect(cache.get('a')).toBe(1);
  });
});
