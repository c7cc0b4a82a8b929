/** Background cleanup of old telemetry, in small batches so ingest is never stalled for long. */

export interface RetentionConfig {
  /** Delete spans and points older than this (0: keep forever). */
  readonly maxAgeMs: number;
  /** Delete the oldest spans beyond this count (0: no limit). */
  readonly maxSpans: number;
  /** How often the cleanup runs. */
  readonly intervalMs: number;
}

export interface RetentionStore {
  deleteOlderThan(cutoffMs: number, batch: number): number;
  spansBeyond(maxSpans: number): number;
  deleteOldestSpans(count: number): number;
}

/** Rows deleted per transaction; small enough to keep each one to a few milliseconds. */
const DELETE_BATCH = 5_000;
/** Batches per run, so one run never holds the event loop for long. */
const MAX_BATCHES_PER_RUN = 20;

/** Runs a write with the store's writers kept out (the ingest workers' shared lock). */
export type WriteLock = <T>(write: () => T) => Promise<T>;

export class RetentionJob {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  /**
   * `lock` is the lock the store's other writers take. SQLite lets one connection write at a
   * time and fails, without waiting, a transaction that read before another connection's
   * commit; deleting outside the ingest workers' lock made their group commits fail (503s)
   * during cleanup. Without other writers (tests, tools) the batches run directly.
   */
  constructor(
    private readonly store: RetentionStore,
    private readonly config: RetentionConfig,
    private readonly lock: WriteLock = (write) => Promise.resolve(write()),
  ) {}

  /**
   * One batch of each rule, given how many spans are still beyond the count limit (those
   * deleted by age count towards it); returns how many spans it deleted.
   */
  private batch(nowMs: number, beyond: number): number {
    const byAge = this.config.maxAgeMs > 0 ? this.store.deleteOlderThan(nowMs - this.config.maxAgeMs, DELETE_BATCH) : 0;
    const excess = beyond - byAge;
    return byAge + (excess > 0 ? this.store.deleteOldestSpans(Math.min(excess, DELETE_BATCH)) : 0);
  }

  /** Spans beyond the count limit: counted once per pass, outside any lock (a full count is slow on a large store). */
  private beyond(): number {
    return this.config.maxSpans > 0 ? this.store.spansBeyond(this.config.maxSpans) : 0;
  }

  /**
   * One cleanup pass; returns how many spans were deleted. Each batch runs under the writers'
   * lock, so ingest commits between batches, and the event loop serves requests between them too.
   */
  async runOnce(nowMs = Date.now()): Promise<number> {
    let beyond = this.beyond();
    let deleted = 0;
    for (let i = 0; i < MAX_BATCHES_PER_RUN; i += 1) {
      const batch = await this.lock(() => this.batch(nowMs, beyond));
      beyond -= batch;
      deleted += batch;
      if (batch === 0) break;
    }
    return deleted;
  }

  start(): void {
    if (this.config.maxAgeMs === 0 && this.config.maxSpans === 0) return;
    this.timer = setInterval(() => {
      // A pass still running (a large backlog) is not joined by a second one.
      if (this.running) return;
      this.running = true;
      this.runOnce()
        .catch((error: unknown) => console.error('retention cleanup failed; it will run again', error))
        .finally(() => (this.running = false));
    }, this.config.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }
}
