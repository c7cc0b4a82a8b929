/**
 * The layout of a trace waterfall, pure: which span goes on which row, how deep it is
 * indented, and where its bar starts and ends on the trace's time axis. No DOM here, so the
 * tests run it directly.
 */

/** The fields of a stored span the layout reads (`GET /api/traces/:traceId`). */
export interface WaterfallSpan {
  readonly spanId: string;
  readonly parentSpanId: string | null;
  readonly startTimeUnixNano: string;
  readonly endTimeUnixNano: string;
}

/** One span's row: where it sits in the tree and on the time axis. */
export interface WaterfallRow<S extends WaterfallSpan> {
  readonly span: S;
  /** 0 for a root; a child is one deeper than its parent. */
  readonly depth: number;
  /** True when the span names a parent that is not (yet) stored: browser spans arrive later. */
  readonly orphan: boolean;
  /** From the trace's first start to this span's start. */
  readonly offsetMs: number;
  readonly durationMs: number;
}

/** A whole trace, laid out. */
export interface Waterfall<S extends WaterfallSpan> {
  /** Depth-first, parents before children, siblings by start time. */
  readonly rows: WaterfallRow<S>[];
  /** From the first start to the last end. */
  readonly totalMs: number;
}

const NANOS_PER_MICRO = 1000n;
const MICROS_PER_MS = 1000;

/** Nanoseconds as a bigint; a value that is not a whole number counts as 0 rather than throwing. */
function nanos(value: string): bigint {
  return /^\d{1,20}$/.test(value) ? BigInt(value) : 0n;
}

/** Milliseconds between two nanosecond instants, subtracted as bigints: epoch nanoseconds are past a float's exact range. */
function msBetween(from: bigint, to: bigint): number {
  const diff = to > from ? to - from : 0n;
  return Number(diff / NANOS_PER_MICRO) / MICROS_PER_MS;
}

/** Lays out the spans of one trace. Spans that form a cycle or repeat an id still get a row each. */
export function layoutWaterfall<S extends WaterfallSpan>(spans: readonly S[]): Waterfall<S> {
  if (spans.length === 0) return { rows: [], totalMs: 0 };
  const starts = new Map<S, bigint>(spans.map((s) => [s, nanos(s.startTimeUnixNano)]));
  const ends = new Map<S, bigint>(spans.map((s) => [s, nanos(s.endTimeUnixNano)]));
  const byStart = (a: S, b: S) => {
    const diff = starts.get(a)! - starts.get(b)!;
    return diff < 0n ? -1 : diff > 0n ? 1 : 0;
  };
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, S[]>();
  const roots: S[] = [];
  for (const span of spans) {
    const parent = span.parentSpanId;
    if (parent === null || parent === '' || parent === span.spanId || !ids.has(parent)) roots.push(span);
    else {
      const siblings = children.get(parent);
      if (siblings === undefined) children.set(parent, [span]);
      else siblings.push(span);
    }
  }
  const first = spans.reduce((min, s) => (starts.get(s)! < min ? starts.get(s)! : min), starts.get(spans[0]!)!);
  const last = spans.reduce((max, s) => {
    const end = ends.get(s)! > starts.get(s)! ? ends.get(s)! : starts.get(s)!;
    return end > max ? end : max;
  }, first);

  const rows: WaterfallRow<S>[] = [];
  const placed = new Set<S>();
  const expanded = new Set<string>();
  const place = (span: S, depth: number, orphan: boolean) => {
    // Iterative, so a deep or cyclic trace posted by a browser cannot exhaust the stack.
    const stack: [S, number, boolean][] = [[span, depth, orphan]];
    while (stack.length > 0) {
      const [next, level, isOrphan] = stack.pop()!;
      if (placed.has(next)) continue;
      placed.add(next);
      rows.push({ span: next, depth: level, orphan: isOrphan, offsetMs: msBetween(first, starts.get(next)!), durationMs: msBetween(starts.get(next)!, ends.get(next)!) });
      // Children of a repeated span id are listed once, under its first row.
      if (expanded.has(next.spanId)) continue;
      expanded.add(next.spanId);
      const kids = [...(children.get(next.spanId) ?? [])].sort(byStart).reverse();
      for (const kid of kids) stack.push([kid, level + 1, false]);
    }
  };
  for (const root of [...roots].sort(byStart)) {
    const parent = root.parentSpanId;
    place(root, 0, parent !== null && parent !== '' && parent !== root.spanId && !ids.has(parent));
  }
  // What is left sits in a cycle of parents: show it at the top level rather than drop it.
  for (const span of [...spans].sort(byStart)) if (!placed.has(span)) place(span, 0, false);
  return { rows, totalMs: msBetween(first, last) };
}
