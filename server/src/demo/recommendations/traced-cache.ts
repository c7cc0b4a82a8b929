import { SpanKind, type Tracer } from '@opentelemetry/api';
import { ATTR } from '../../../../common/src/semconv.js';
import type { LruCache } from './lru-cache.js';
import { inSpan } from './traced.js';

/** Cache hits and misses of one request's lookups: summed onto its request span. */
export interface CacheTally {
  hits: number;
  misses: number;
}

/** A new request's tally, nothing looked up yet. */
export function emptyTally(): CacheTally {
  return { hits: 0, misses: 0 };
}

/** One `cache.get <name>` CLIENT span for a batch of keys, with hits and misses on it and added to `tally`. */
export function cacheLookup<V>(tracer: Tracer, name: string, keys: readonly string[], cache: LruCache<V>, tally: CacheTally): { found: Map<string, V>; misses: string[] } {
  return inSpan(tracer, `cache.get ${name}`, { kind: SpanKind.CLIENT, attributes: { 'cache.name': name, 'db.system.name': 'in-memory-lru' } }, (span) => {
    const found = new Map<string, V>();
    const misses: string[] = [];
    for (const key of keys) {
      const value = cache.get(key);
      if (value === undefined) misses.push(key);
      else found.set(key, value);
    }
    span.setAttribute(ATTR.CACHE_HITS, found.size);
    span.setAttribute(ATTR.CACHE_MISSES, misses.length);
    tally.hits += found.size;
    tally.misses += misses.length;
    span.setAttribute('cache.hit', misses.length === 0);
    return { found, misses };
  });
}
