/**
 * The server's own telemetry, written to a file in `DATA_DIR` before the exporters report it
 * exported: what a crash (kill -9, a power cut the OS survives) leaves queued in memory is
 * read back at the next start and stored then. The file is emptied whenever everything queued
 * is committed, so it holds at most what the queue holds. Storing a record twice is harmless:
 * the store keeps one copy of a span (trace, span id, start) and of a metric point (stream,
 * start, time).
 */
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { MetricPointRecord, SpanRecord } from '../core/telemetry-records.js';

/** One line of the journal: one export's records. */
interface JournalLine {
  readonly s: readonly SpanRecord[];
  readonly p: readonly MetricPointRecord[];
}

/** An append-only file of the records handed to the queue and not yet known to be committed. */
export class RecordJournal {
  private fd: number | undefined;

  constructor(private readonly path: string) {}

  /** What a previous run left: every complete line (a line cut short by a crash is skipped). */
  leftovers(): { spans: SpanRecord[]; points: MetricPointRecord[] } {
    const spans: SpanRecord[] = [];
    const points: MetricPointRecord[] = [];
    if (!existsSync(this.path)) return { spans, points };
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (line === '') continue;
      try {
        const parsed = JSON.parse(line) as JournalLine;
        spans.push(...parsed.s);
        points.push(...parsed.p);
      } catch {
        // The last line of a run killed while writing it: its records were never reported exported.
      }
    }
    return { spans, points };
  }

  /** Appends records (written through to the OS before this returns). */
  append(spans: readonly SpanRecord[], points: readonly MetricPointRecord[]): void {
    this.fd ??= openSync(this.path, 'a');
    writeSync(this.fd, `${JSON.stringify({ s: spans, p: points } satisfies JournalLine)}\n`);
  }

  /** Empties the journal: everything in it is committed. */
  clear(): void {
    this.fd ??= openSync(this.path, 'a');
    ftruncateSync(this.fd);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
