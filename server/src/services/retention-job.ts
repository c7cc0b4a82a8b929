/** Background cleanup of old telemetry, in small batches so ingest is never stalled for long. */

export interface RetentionConfig {
  /** Delete spans and points older than this (0: keep forever). */
  readonly maxAgeMs: number;
  /** Delete spans beyond this count, the browser's first, by arrival (0: no limit). */
  readonly maxSpans: number;
  /** Delete metric points beyond this count, the browser's first, by arrival (0 or absent: no limit). */
  readonly maxPoints?: number;
  /** How often the cleanup runs. */
  readonly intervalMs: number;
}

export interface RetentionStore {
  deleteOlderThan(cutoffMs: number, batch: number): number;
  spansBeyond(maxSpans: number): number;
  deleteOldestSpans(count: number): number;
  /** Metric points beyond a count; a store without it has its points bounded by age only. */
  pointsBeyond?(maxPoints: number): number;
  deleteOldestPoints?(count: number): number;
}

/** Rows deleted per transaction; small enough to keep each one to a few milliseconds. */
const DELETE_BATCH = 5_000;

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

  /** Runs `batch` under the lock until it deletes nothing; returns how many rows it deleted. */
  private async repeat(batch: () => number): Promise<number> {
    let deleted = 0;
    for (;;) {
      const n = await this.lock(batch);
      deleted += n;
      if (n === 0) return deleted;
    }
  }

  /**
   * One cleanup pass; returns how many spans were deleted. It runs until nothing is beyond the
   * limits — a cap on batches per pass let ingest outrun it (3.4 M spans held against a limit of
   * 10,000). Each batch runs under the writers' lock, so ingest commits between batches, and the
   * event loop serves requests between them too. Counts are taken once per rule, outside any
   * lock (a full count is slow on a large store), after the deletions by age.
   */
  async runOnce(nowMs = Date.now()): Promise<number> {
    const { maxAgeMs, maxSpans, maxPoints = 0 } = this.config;
    let deleted = maxAgeMs > 0 ? await this.repeat(() => this.store.deleteOlderThan(nowMs - maxAgeMs, DELETE_BATCH)) : 0;
    if (maxSpans > 0) {
      let beyond = this.store.spansBeyond(maxSpans);
      deleted += await this.repeat(() => {
        const n = beyond > 0 ? this.store.deleteOldestSpans(Math.min(beyond, DELETE_BATCH)) : 0;
        beyond -= n;
        return n;
      });
    }
    const { pointsBeyond, deleteOldestPoints } = this.store;
    if (maxPoints > 0 && pointsBeyond !== undefined && deleteOldestPoints !== undefined) {
      let beyond = pointsBeyond.call(this.store, maxPoints);
      await this.repeat(() => {
        const n = beyond > 0 ? deleteOldestPoints.call(this.store, Math.min(beyond, DELETE_BATCH)) : 0;
        beyond -= n;
        return n;
      });
    }
    return deleted;
  }

  start(): void {
    if (this.config.maxAgeMs === 0 && this.config.maxSpans === 0 && (this.config.maxPoints ?? 0) === 0) return;
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
