/** `TelemetryStore.findSpansPage`: the cursor pages of `/api/spans`, on a real SQLite file. */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SpanRecord } from '../src/core/telemetry-records.js';
import { SEGMENT_ROWS } from '../src/core/trace-bloom.js';
import { TelemetryStore, type SpanCursor } from '../src/store/telemetry-store.js';
import { hexId, tempDir } from './helpers.js';

const NOW_MS = Date.parse('2026-11-24T00:00:00Z');

function span(n: number, name: string, requestId: string): SpanRecord {
  const start = BigInt(NOW_MS + n) * 1_000_000n;
  return {
    traceId: hexId(n + 1, 16),
    spanId: hexId(n + 1, 8),
    parentSpanId: null,
    name,
    kind: 1,
    service: 'browser',
    scope: 's',
    startTimeUnixNano: start.toString(),
    endTimeUnixNano: (start + 1_000_000n).toString(),
    statusCode: 0,
    statusMessage: '',
    attributes: { 'recommendation.request_id': requestId },
    events: [],
    links: [],
    trusted: false,
  };
}

let store: TelemetryStore | undefined;
afterEach(() => store?.close());

/** Every page of a query, with the spans each held. */
function allPages(query: Parameters<TelemetryStore['findSpansPage']>[0]): string[][] {
  const pages: string[][] = [];
  let cursor: SpanCursor | undefined;
  for (;;) {
    const page = store!.findSpansPage({ ...query, cursor });
    pages.push(page.spans.map((s) => s.spanId));
    if (page.next === null) return pages;
    cursor = page.next;
  }
}

describe('findSpansPage', () => {
  it('pages by name, by request id and by both, every span once, newest first, across segments', () => {
    store = new TelemetryStore({ path: join(tempDir('pages'), 't.db') });
    // Every 7th span is rare; every 3rd names request "req-many".
    const spans = Array.from({ length: 2 * SEGMENT_ROWS + 50 }, (_, n) => span(n, n % 7 === 0 ? 'rare' : 'common', n % 3 === 0 ? 'req-many' : `req-${n}`));
    store.addSpans(spans);
    const newestFirst = (keep: (n: number) => boolean) => spans.map((s, n) => (keep(n) ? s.spanId : undefined)).filter((id) => id !== undefined).reverse();

    const byName = allPages({ name: 'rare', limit: 100, scanBudget: 1_000_000 });
    expect(byName.flat()).toEqual(newestFirst((n) => n % 7 === 0));
    expect(byName[0]).toHaveLength(100);

    const byRequest = allPages({ requestId: 'req-many', limit: 1000, scanBudget: 1_000_000 });
    expect(byRequest.map((p) => p.length)).toEqual([1000, 1000, 748]);
    expect(byRequest.flat()).toEqual(newestFirst((n) => n % 3 === 0));

    expect(allPages({ requestId: 'req-many', name: 'rare', limit: 50, scanBudget: 1_000_000 }).flat()).toEqual(newestFirst((n) => n % 21 === 0));
  });

  it('looks at no more spans per page than its scan budget: a rare name gives short pages, not a scan of the store', () => {
    store = new TelemetryStore({ path: join(tempDir('budget'), 't.db') });
    const spans = Array.from({ length: 1000 }, (_, n) => span(n, n === 10 ? 'needle' : 'hay', `req-${n}`));
    store.addSpans(spans);
    const pages = allPages({ name: 'needle', limit: 10, scanBudget: 100 });
    // 1,000 spans, 100 a page: ten pages, one of them with the needle; the tenth ends on its
    // budget, so an eleventh, empty, is the one that says there is no more.
    expect(pages).toHaveLength(11);
    expect(pages.flat()).toEqual([hexId(11, 8)]);
    expect(pages.filter((p) => p.length === 0)).toHaveLength(10);
  });
});
