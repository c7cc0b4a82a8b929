/**
 * The attribution rules' table of cases (fixtures/attribution-cases.json) and a runner that
 * holds a backend to it. A backend is a function that takes a case's arrivals, stores them in
 * the order given, and returns what its analysis reads back, summarised; the SQLite store
 * and the ClickHouse tables both run through here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

/** A served request of a case; `variant` null is a visitor in no running experiment. */
export interface CaseRequest {
  readonly id: string;
  readonly user: string;
  readonly variant: string | null;
  readonly forced?: boolean;
  readonly at: number;
  readonly contentIds?: readonly string[];
  readonly count?: number;
  /** The visit's `session.id` the server recorded on the request span. */
  readonly session?: string;
}

/** A browser event of a case; `epoch` dates it at 1970 instead of `at`. */
export interface CaseEvent {
  readonly request: string;
  readonly content?: string;
  readonly at?: number;
  readonly epoch?: boolean;
  readonly claims?: Readonly<Record<string, string>>;
  /** The `session.id` the event's visit reports. */
  readonly session?: string;
}

export type CaseArrival = { readonly request: CaseRequest } | { readonly click: CaseEvent } | { readonly view: CaseEvent };

export interface VariantSummary {
  users: number;
  requests: number;
  clicks: number;
  mismatched: number;
  invalid: number;
  reported: number;
}

export interface PopulationSummary {
  users: number;
  requests: number;
  clicks: number;
}

/** What a backend's analysis says of one case. */
export interface CaseSummary {
  variants: Record<string, VariantSummary>;
  unknownRequest: number;
  populations: { holdout: PopulationSummary; forced: PopulationSummary };
}

export interface AttributionCase {
  readonly name: string;
  readonly arrivals: readonly CaseArrival[];
  readonly expect: { variants: Record<string, Partial<VariantSummary>>; unknownRequest: number; populations?: Partial<Record<'holdout' | 'forced', Partial<PopulationSummary>>> };
}

export interface AttributionTable {
  readonly specVersion: number;
  readonly experimentKey: string;
  readonly variants: readonly string[];
  readonly cases: readonly AttributionCase[];
}

export const ATTRIBUTION_TABLE = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures/attribution-cases.json'), 'utf8')) as AttributionTable;

/** The time of an arrival: the case's base time plus its offset (ms), or the epoch. */
export function arrivalMs(baseMs: number, item: { at?: number; epoch?: boolean }): number {
  return item.epoch === true ? 0 : baseMs + (item.at ?? 0);
}

/** One `it` per case: the backend's summary must match the case's expectations. */
export function holdsToAttributionTable(backend: string, run: (c: AttributionCase, index: number) => Promise<CaseSummary>): void {
  it('reads spec version 2 of the table', () => expect(ATTRIBUTION_TABLE.specVersion).toBe(2));
  ATTRIBUTION_TABLE.cases.forEach((c, index) => {
    it(`${backend}: ${c.name}`, async () => {
      const summary = await run(c, index);
      for (const [variant, expected] of Object.entries(c.expect.variants)) expect(summary.variants[variant], `${c.name}: ${variant}`).toMatchObject(expected);
      expect(summary.unknownRequest, `${c.name}: unknown request`).toBe(c.expect.unknownRequest);
      const populations = c.expect.populations ?? {};
      expect(summary.populations.holdout, `${c.name}: holdout`).toMatchObject(populations.holdout ?? { requests: 0, clicks: 0 });
      expect(summary.populations.forced, `${c.name}: forced`).toMatchObject(populations.forced ?? { requests: 0, clicks: 0 });
    });
  });
}
