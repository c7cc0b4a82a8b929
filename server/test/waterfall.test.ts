import { describe, expect, it } from 'vitest';
import { layoutWaterfall } from '../dashboard/waterfall.js';

/** Epoch nanoseconds past 2^53, as stored, so float arithmetic would lose the microseconds. */
const T0 = 1_795_000_000_000_000_000n;

function span(spanId: string, parentSpanId: string | null, startUs: number, endUs: number) {
  return {
    spanId,
    parentSpanId,
    startTimeUnixNano: String(T0 + BigInt(startUs) * 1000n),
    endTimeUnixNano: String(T0 + BigInt(endUs) * 1000n),
  };
}

function layout(spans: ReturnType<typeof span>[]) {
  const { rows, totalMs } = layoutWaterfall(spans);
  return { totalMs, rows: rows.map((r) => [r.span.spanId, r.depth, r.orphan, r.offsetMs, r.durationMs]) };
}

describe('layoutWaterfall', () => {
  it.each([
    { name: 'no spans', spans: [], rows: [], totalMs: 0 },
    {
      name: 'parents before children, siblings by start, offsets to the microsecond',
      spans: [span('c2', 'root', 3_000, 4_001), span('root', null, 0, 10_000), span('c1', 'root', 1_000, 2_500), span('g1', 'c1', 1_200, 1_201)],
      rows: [
        ['root', 0, false, 0, 10],
        ['c1', 1, false, 1, 1.5],
        ['g1', 2, false, 1.2, 0.001],
        ['c2', 1, false, 3, 1.001],
      ],
      totalMs: 10,
    },
    {
      name: 'a span whose parent is not stored yet is a root, marked as orphan',
      spans: [span('server', 'browser-fetch', 500, 2_000), span('child', 'server', 600, 700)],
      rows: [
        ['server', 0, true, 0, 1.5],
        ['child', 1, false, 0.1, 0.1],
      ],
      totalMs: 1.5,
    },
    {
      name: 'a cycle of parents still shows every span once',
      spans: [span('a', 'b', 0, 1_000), span('b', 'a', 100, 200)],
      rows: [
        ['a', 0, false, 0, 1],
        ['b', 1, false, 0.1, 0.1],
      ],
      totalMs: 1,
    },
    {
      name: 'an end before the start counts as zero length, and the axis covers the latest end',
      spans: [span('x', null, 2_000, 1_000), span('y', null, 0, 500)],
      rows: [
        ['y', 0, false, 0, 0.5],
        ['x', 0, false, 2, 0],
      ],
      totalMs: 2,
    },
  ])('$name', ({ spans, rows, totalMs }) => {
    expect(layout(spans)).toEqual({ rows, totalMs });
  });

  it('lays out a deep chain without recursion', () => {
    const spans = Array.from({ length: 20_000 }, (_, i) => span(`s${i}`, i === 0 ? null : `s${i - 1}`, i, i + 1));
    const { rows } = layoutWaterfall(spans);
    expect(rows).toHaveLength(20_000);
    expect(rows.at(-1)!.depth).toBe(19_999);
  });

  it('treats a malformed timestamp as zero rather than throwing', () => {
    const { rows } = layoutWaterfall([{ spanId: 'a', parentSpanId: null, startTimeUnixNano: 'soon', endTimeUnixNano: '1000000' }]);
    expect(rows[0]!.durationMs).toBe(1);
  });
});
