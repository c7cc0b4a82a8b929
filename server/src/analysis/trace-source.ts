/**
 * The seam between the trace view (`GET /api/traces/:traceId`) and where spans live: the SQLite
 * store, or the exporter's `otel_traces` on ClickHouse (`ANALYSIS_BACKEND=clickhouse`). A source
 * reads one trace's spans by start time, at most a limit of them, handed over in chunks so that a
 * huge trace neither holds the event loop nor sits in memory as one string.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { StoredSpan } from '../../../common/src/wire-types.js';
import type { TelemetryStore } from '../store/telemetry-store.js';

/** One trace as a source reads it. */
export interface TraceRead {
  /** How many spans of the trace are stored. */
  readonly count: number;
  /** The first spans by start time (at most the limit asked for), `size` at a time. */
  chunks(size: number): AsyncIterable<StoredSpan[]>;
}

/** Where the trace view reads a trace from. */
export interface TraceSource {
  /** The trace `traceId` (32 lower-case hex digits), or undefined when none of its spans is stored; `gone()` says the reader left. */
  trace(traceId: string, limit: number, gone: () => boolean): Promise<TraceRead | undefined>;
}

/** The traces of the SQLite store: keys first (a segment of 4,096 rows per turn of the event loop), rows a chunk at a time. */
export class StoreTraceSource implements TraceSource {
  constructor(private readonly store: TelemetryStore) {}

  async trace(traceId: string, limit: number, gone: () => boolean): Promise<TraceRead | undefined> {
    const keys: [number, number][] = [];
    for (const segment of this.store.traceSegments(traceId)) {
      keys.push(...this.store.traceSpanKeys(traceId, segment));
      await yieldToEventLoop();
      if (gone()) return undefined;
    }
    if (keys.length === 0) return undefined;
    keys.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    const shown = keys.slice(0, limit).map(([id]) => id);
    const store = this.store;
    return {
      count: keys.length,
      async *chunks(size: number) {
        for (let i = 0; i < shown.length; i += size) {
          if (i > 0) await yieldToEventLoop();
          yield store.spansByIds(shown.slice(i, i + size));
        }
      },
    };
  }
}
