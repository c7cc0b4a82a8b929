import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { addToBloom, BLOOM_BYTES, mightContain, SEGMENT_ROWS, segmentOf } from '../src/core/trace-bloom.js';
import { hexId } from './helpers.js';

describe('trace Bloom filters', () => {
  const keySets = [
    ['random W3C trace ids', (_n: number) => `t:${randomBytes(16).toString('hex')}`],
    ['counting ids that differ in their last digits', (n: number) => `t:${hexId(n, 16)}`],
    ['request ids', (_n: number) => `r:${randomBytes(16).toString('base64url')}`],
  ] as const;

  for (const [name, key] of keySets) {
    it(`never misses a key of a full segment, and rarely claims one it never saw: ${name}`, () => {
      const bloom = new Uint8Array(BLOOM_BYTES);
      // A full segment holds a trace key and a request key per span.
      const added = Array.from({ length: 2 * SEGMENT_ROWS }, (_, n) => key(n));
      for (const k of added) addToBloom(bloom, k);
      expect(added.filter((k) => !mightContain(bloom, k))).toEqual([]);
      const others = Array.from({ length: 20_000 }, (_, n) => key(n + 1_000_000));
      const falsePositives = others.filter((k) => mightContain(bloom, k)).length / others.length;
      // 2 x 4096 keys in 65,536 bits with 4 probes: 2.4% expected; a filter that answers
      // "maybe" to everything would make every lookup a full scan.
      expect(falsePositives).toBeLessThan(0.04);
    });
  }

  it('an empty filter holds nothing, and a filter of the wrong size is never trusted to exclude', () => {
    expect(mightContain(new Uint8Array(BLOOM_BYTES), 't:abc')).toBe(false);
    expect(mightContain(new Uint8Array(16), 't:abc')).toBe(true);
  });

  it('numbers rows into segments of SEGMENT_ROWS', () => {
    expect([0, SEGMENT_ROWS - 1, SEGMENT_ROWS, 3 * SEGMENT_ROWS + 5].map(segmentOf)).toEqual([0, 0, 1, 3]);
  });
});
