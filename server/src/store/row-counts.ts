/**
 * How many rows the big tables hold, kept in `row_counts` by every transaction that adds or
 * deletes rows, so that retention learns how far a table is beyond its limit with one read of
 * one row. `count(*)` walked the whole table on the main thread at every retention pass
 * (3.4 M spans: a scan per pass).
 */
import type Database from 'better-sqlite3';

/** The tables counted. */
export type CountedTable = 'spans' | 'metric_points';

/** The counters of one connection; `add` runs inside the transaction whose rows it counts. */
export class RowCounts {
  private readonly addTo: Database.Statement;
  private readonly read: Database.Statement;

  constructor(db: Database.Database) {
    this.addTo = db.prepare('UPDATE row_counts SET n = n + ? WHERE name = ?');
    this.read = db.prepare('SELECT n FROM row_counts WHERE name = ?').pluck();
  }

  /** Adds `delta` (negative for deletions) to a table's count. */
  add(table: CountedTable, delta: number): void {
    if (delta !== 0) this.addTo.run(delta, table);
  }

  /** How many rows a table holds. */
  get(table: CountedTable): number {
    return (this.read.get(table) as number | undefined) ?? 0;
  }
}
