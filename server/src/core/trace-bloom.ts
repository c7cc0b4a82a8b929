/**
 * Bloom filters over the trace ids of a segment of stored spans: how a trace is found without
 * an index on trace ids. Trace ids are random, so an index on them takes every insert to a
 * random page of a B-tree that grows with the table, and each commit then writes one page per
 * span; the filters are written once per segment and commit instead, and a lookup tests every
 * segment's filter and scans only the segments that may hold the trace.
 */

/** Span rows per segment: consecutive row ids share one filter. */
export const SEGMENT_ROWS = 4096;
/** Bits per filter: 16 per span of a full segment. */
export const BLOOM_BITS = SEGMENT_ROWS * 16;
/** A power of two, so a bit position is the hash's low bits. */
const BIT_MASK = BLOOM_BITS - 1;
/** Bytes of one filter as stored. */
export const BLOOM_BYTES = BLOOM_BITS / 8;
/** Probes per key: with 16 bits per key, 4 probes give about 0.24% false positives when full. */
const PROBES = 4;

/** The segment a span row belongs to. */
export function segmentOf(row: number): number {
  return Math.floor(row / SEGMENT_ROWS);
}

/** Murmur3's finaliser: spreads every input bit over the whole word. */
function mix(hash: number): number {
  let h = hash ^ (hash >>> 16);
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Two independent 32-bit hashes of a key (FNV-1a with two seeds, then mixed), so that ids
 * that differ in one digit, or count up, still land on unrelated bits.
 */
function hashes(key: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ key.length;
  for (let i = 0; i < key.length; i += 1) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return [mix(a), mix(b) | 1];
}

/** Sets the key's bits in a filter of `BLOOM_BYTES` bytes. */
export function addToBloom(bloom: Uint8Array, key: string): void {
  const [h1, h2] = hashes(key);
  for (let i = 0; i < PROBES; i += 1) {
    const bit = (h1 + Math.imul(i, h2)) & BIT_MASK;
    bloom[bit >>> 3]! |= 1 << (bit & 7);
  }
}

/** False when the key was never added to the filter; true when it may have been. */
export function mightContain(bloom: Uint8Array, key: string): boolean {
  if (bloom.length !== BLOOM_BYTES) return true;
  const [h1, h2] = hashes(key);
  for (let i = 0; i < PROBES; i += 1) {
    const bit = (h1 + Math.imul(i, h2)) & BIT_MASK;
    if ((bloom[bit >>> 3]! & (1 << (bit & 7))) === 0) return false;
  }
  return true;
}
