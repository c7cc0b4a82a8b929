/**
 * Finding a trace or a request without an index on random ids: the `spans` rows fall into
 * segments of `SEGMENT_ROWS` row ids, each with a Bloom filter of the trace ids and request ids
 * its rows carry (`core/trace-bloom.ts`), kept in `span_blooms`. A lookup reads only the
 * segments whose filter may hold the key.
 */
import type Database from 'better-sqlite3';
import { addToBloom, BLOOM_BYTES, mightContain, SEGMENT_ROWS, segmentOf } from '../core/trace-bloom.js';
import type { NewRow, SpanRow } from './telemetry-rows.js';

/** Bloom filter keys: trace ids and request ids share a segment's filter, apart by prefix. */
export const traceKey = (traceId: string): string => `t:${traceId}`;
export const requestKey = (requestId: string): string => `r:${requestId}`;

/** The segments' Bloom filters of one connection. */
export class TraceSegments {
  private readonly bloomOf: Database.Statement;
  private readonly writeBloom: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.bloomOf = db.prepare('SELECT bloom FROM span_blooms WHERE segment = ?').pluck();
    this.writeBloom = db.prepare('INSERT OR REPLACE INTO span_blooms (segment, bloom) VALUES (?, ?)');
  }

  /** True when no segment has a filter yet. */
  isEmpty(): boolean {
    return this.db.prepare('SELECT count(*) FROM span_blooms').pluck().get() === 0;
  }

  /** Puts new rows' trace and request ids into their segments' filters (inside the write transaction). */
  add(rows: readonly NewRow[]): void {
    const blooms = new Map<number, Uint8Array>();
    for (const { row, traceId, requestId } of rows) {
      const segment = segmentOf(row);
      let bloom = blooms.get(segment);
      if (bloom === undefined) blooms.set(segment, (bloom = new Uint8Array(BLOOM_BYTES)));
      addToBloom(bloom, traceKey(traceId));
      if (requestId !== null) addToBloom(bloom, requestKey(requestId));
    }
    for (const [segment, bloom] of blooms) {
      const stored = this.bloomOf.get(segment) as Buffer | undefined;
      if (stored !== undefined && stored.length === BLOOM_BYTES) for (let i = 0; i < BLOOM_BYTES; i += 1) bloom[i]! |= stored[i]!;
      this.writeBloom.run(segment, bloom);
    }
  }

  /** Drops the filters of segments whose rows are all gone (all of them when no span is left). */
  forgetEmpty(): void {
    const first = this.db.prepare('SELECT min(id) FROM spans').pluck().get() as number | null;
    if (first === null) this.db.prepare('DELETE FROM span_blooms').run();
    else this.db.prepare('DELETE FROM span_blooms WHERE segment < ?').run(segmentOf(first));
  }

  /** The segments whose Bloom filter may hold `key`, newest first. */
  segmentsWith(key: string): number[] {
    const segments: number[] = [];
    // Collected first: the connection runs nothing else while it iterates.
    for (const [segment, bloom] of this.db.prepare('SELECT segment, bloom FROM span_blooms ORDER BY segment DESC').raw().iterate() as IterableIterator<[number, Buffer]>) {
      if (mightContain(bloom, key)) segments.push(segment);
    }
    return segments;
  }

  /** Rows of the segments that may hold `key` and match `where` (on columns of `spans`). */
  rowsInSegments(key: string, where: string, params: readonly unknown[]): SpanRow[] {
    const inSegment = this.db.prepare(`SELECT * FROM spans WHERE id >= ? AND id < ? AND ${where}`);
    return this.segmentsWith(key).flatMap((segment) => inSegment.all(segment * SEGMENT_ROWS, (segment + 1) * SEGMENT_ROWS, ...params) as SpanRow[]);
  }
}
