/**
 * The write-ahead log's upkeep: checkpoints moved off the commit path (the ingest workers'
 * checkpoint thread runs them), the WAL's size after it starts over, and the file's integrity.
 */
import type Database from 'better-sqlite3';

/** The WAL upkeep of one connection. */
export class WalMaintenance {
  constructor(private readonly db: Database.Database) {}

  /** Stops this connection from checkpointing at commit; see `checkpoint`. */
  disableAutoCheckpoint(): void {
    this.db.pragma('wal_autocheckpoint = 0');
  }

  /** Copies committed WAL pages into the database without blocking writers (PASSIVE); returns how many pages the WAL holds. */
  checkpoint(): number {
    const [result] = this.db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
    return result?.log ?? 0;
  }

  /**
   * Copies the rest of the WAL into the database and has the next commit write the WAL from
   * its start again (RESTART), waiting at most `busyTimeoutMs` for readers: call it with
   * writers kept out, after `checkpoint` has copied the bulk. Returns false when a reader held
   * it back (the next call tries again).
   */
  restartWal(busyTimeoutMs: number): boolean {
    const previous = this.db.pragma('busy_timeout', { simple: true }) as number;
    this.db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    try {
      const [result] = this.db.pragma('wal_checkpoint(RESTART)') as { busy: number }[];
      return result?.busy !== 1;
    } finally {
      this.db.pragma(`busy_timeout = ${previous}`);
    }
  }

  /** The size a WAL file is truncated to when it starts over (`PRAGMA journal_size_limit`). */
  limitWalSize(bytes: number): void {
    this.db.pragma(`journal_size_limit = ${bytes}`);
  }

  /** `PRAGMA integrity_check`: "ok" for a sound file. */
  integrityCheck(): string {
    return this.db.pragma('integrity_check', { simple: true }) as string;
  }
}
