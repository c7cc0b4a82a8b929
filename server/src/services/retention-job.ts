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
  trimToMaxSpans(maxSpans: number, batch: number): number;
}

/** Rows deleted per transaction; small enough to keep each one to a few milliseconds. */
const DELETE_BATCH = 5_000;
/** Batches per run, so one run never holds the event loop for long. */
const MAX_BATCHES_PER_RUN = 20;

export class RetentionJob {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: RetentionStore,
    private readonly config: RetentionConfig,
  ) {}

  /** One cleanup pass; returns how many spans were deleted. */
  runOnce(nowMs = Date.now()): number {
    let deleted = 0;
    for (let i = 0; i < MAX_BATCHES_PER_RUN; i += 1) {
      let batch = 0;
      if (this.config.maxAgeMs > 0) batch += this.store.deleteOlderThan(nowMs - this.config.maxAgeMs, DELETE_BATCH);
      if (this.config.maxSpans > 0) batch += this.store.trimToMaxSpans(this.config.maxSpans, DELETE_BATCH);
      deleted += batch;
      if (batch === 0) break;
    }
    return deleted;
  }

  start(): void {
    if (this.config.maxAgeMs === 0 && this.config.maxSpans === 0) return;
    this.timer = setInterval(() => {
      try {
        this.runOnce();
      } catch (error) {
        console.error('retention cleanup failed; it will run again', error);
      }
    }, this.config.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }
}
