/**
 * The trace view: `/dashboard/trace.html?traceId=<32 hex>` draws the stored spans of one
 * trace as a waterfall. Browsers post their spans a little after the server stores its own,
 * so the page keeps asking for a while. Spans from browsers are untrusted: every value goes
 * into the page through textContent or an attribute, never as markup.
 */
import { ATTR } from '../../common/src/semconv.js';
import type { StoredSpan } from '../../common/src/wire-types.js';
import { el } from './dom.js';
import { layoutWaterfall, type WaterfallRow } from './waterfall.js';

/** How often the page asks again while spans may still be arriving, and for how long. */
const POLL_MS = 2000;
const POLL_FOR_MS = 30_000;
const TRACE_ID = /^[0-9a-f]{32}$/;
const ZERO_TRACE_ID = '0'.repeat(32);
/** Indentation per level, capped so a deep trace still leaves room for its names. */
const INDENT_REM = 0.9;
const MAX_INDENT_LEVELS = 12;
/** A zero-length span still gets a visible sliver of bar. */
const MIN_BAR_PERCENT = 0.4;
const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUS = ['unset', 'ok', 'error'];
const ERROR_STATUS = 2;

interface SpanEvent {
  name?: unknown;
  attributes?: Record<string, unknown>;
}

interface SpanLink {
  traceId?: unknown;
  spanId?: unknown;
}

type Span = StoredSpan;

const statusLine = document.querySelector<HTMLElement>('[data-testid="trace-status"]')!;
const waterfall = document.querySelector<HTMLElement>('[data-testid="trace-waterfall"]')!;
const refreshButton = document.querySelector<HTMLButtonElement>('#refresh')!;

let pollUntil = 0;
let timer: ReturnType<typeof setTimeout> | undefined;
/** The span ids drawn last; stored spans never change, so the same ids mean nothing to redraw. */
let drawn = '';

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
}

function traceLink(traceId: string, label: string): HTMLAnchorElement {
  const link = el('a', label);
  link.href = `?traceId=${encodeURIComponent(traceId)}`;
  return link;
}

function attributeTable(attributes: Record<string, unknown>, label: string): HTMLTableElement {
  const table = el('table', undefined, 'attributes');
  table.setAttribute('aria-label', label);
  const body = table.createTBody();
  for (const key of Object.keys(attributes).sort()) {
    const row = body.insertRow();
    row.append(el('th', key), el('td', text(attributes[key])));
  }
  return table;
}

/** Everything about a span beyond its row: attributes, events, links. */
function details(span: Span): HTMLDetailsElement {
  const box = el('details');
  box.dataset.spanId = span.spanId;
  const attributes = span.attributes ?? {};
  const events = (Array.isArray(span.events) ? span.events : []) as SpanEvent[];
  const links = (Array.isArray(span.links) ? span.links : []) as SpanLink[];
  box.append(el('summary', `${Object.keys(attributes).length} attributes, ${events.length} events, ${links.length} links`));
  box.append(attributeTable(attributes, 'span attributes'));
  for (const event of events) {
    const name = `event ${text(event.name)}`;
    box.append(el('h4', name), attributeTable(event.attributes ?? {}, `${name} attributes`));
  }
  for (const link of links) {
    const line = el('p', 'link to ', 'link-line');
    const traceId = typeof link.traceId === 'string' ? link.traceId.toLowerCase() : '';
    // Only a well-formed id becomes a link; anything else is shown as the text it is.
    line.append(TRACE_ID.test(traceId) ? traceLink(traceId, `trace ${traceId}`) : el('span', `trace ${text(link.traceId)}`), el('span', `, span ${text(link.spanId)}`));
    box.append(line);
  }
  return box;
}

function spanRow(row: WaterfallRow<Span>, totalMs: number, open: boolean): HTMLElement {
  const { span } = row;
  const node = el('div', undefined, 'span-row');
  node.dataset.testid = 'trace-span';
  node.dataset.spanId = span.spanId;
  node.dataset.depth = String(row.depth);
  node.setAttribute('data-span-name', span.name);
  node.setAttribute('data-service', span.service);

  // The label, the experiment chips and the details all sit at the span's depth.
  node.style.setProperty('--indent', `${Math.min(row.depth, MAX_INDENT_LEVELS) * INDENT_REM}rem`);
  const label = el('div', undefined, 'span-label');
  const statusCode = span.status?.code ?? 0;
  const status = el('span', STATUS[statusCode] ?? String(statusCode), statusCode === ERROR_STATUS ? 'badge error' : 'badge');
  if (statusCode === ERROR_STATUS && span.status.message) status.title = span.status.message;
  const facts = el('span', undefined, 'span-facts');
  facts.append(el('span', span.service, 'service'), el('span', KINDS[span.kind] ?? String(span.kind)), status);
  if (!span.trusted) facts.append(el('span', 'browser-reported', 'badge untrusted'));
  if (row.orphan) facts.append(el('span', 'parent not stored yet', 'badge'));
  label.append(el('span', span.name, 'span-name'), facts);

  const track = el('div', undefined, 'bar-track');
  const bar = el('div', undefined, statusCode === ERROR_STATUS ? 'bar error' : span.trusted ? 'bar' : 'bar untrusted');
  const left = totalMs > 0 ? (row.offsetMs / totalMs) * 100 : 0;
  const width = totalMs > 0 ? Math.max((row.durationMs / totalMs) * 100, MIN_BAR_PERCENT) : 100;
  bar.style.left = `${Math.min(left, 100 - MIN_BAR_PERCENT)}%`;
  bar.style.width = `${Math.min(width, 100 - Math.min(left, 100 - MIN_BAR_PERCENT))}%`;
  bar.title = `starts at ${row.offsetMs.toFixed(3)} ms`;
  track.append(bar);

  const experiments = el('div', undefined, 'span-experiments');
  for (const [key, value] of Object.entries(span.attributes ?? {})) {
    if (key.startsWith(ATTR.EXPERIMENT_PREFIX)) experiments.append(el('span', `${key}=${text(value)}`, 'chip'));
  }
  const more = details(span);
  more.open = open;
  node.append(label, track, el('div', `${span.durationMs.toFixed(2)} ms`, 'span-duration'), experiments, more);
  return node;
}

function draw(traceId: string, spans: Span[]): void {
  const ids = spans.map((s) => s.spanId).join(',');
  if (ids === drawn) return;
  drawn = ids;
  // Keep open what the reader opened.
  const open = new Set([...waterfall.querySelectorAll<HTMLDetailsElement>('details[open]')].map((d) => d.dataset.spanId));
  const layout = layoutWaterfall(spans);
  const axis = el('div', undefined, 'span-row axis');
  axis.append(el('div', 'span'), el('div', `0 – ${layout.totalMs.toFixed(2)} ms`, 'bar-track'), el('div', 'duration', 'span-duration'));
  waterfall.replaceChildren(axis, ...layout.rows.map((row) => spanRow(row, layout.totalMs, open.has(row.span.spanId))));
  const services = new Set(spans.map((s) => s.service));
  document.querySelector('[data-testid="trace-title"]')!.textContent = `Trace ${traceId}: ${spans.length} spans from ${services.size} service${services.size === 1 ? '' : 's'}`;
}

/** Asks for the trace once; says what it found. */
async function load(traceId: string): Promise<string> {
  const response = await fetch(`/api/traces/${traceId}`);
  if (response.status === 404) return 'No spans stored yet for this trace.';
  if (response.status === 401) {
    pollUntil = 0;
    return 'The login has expired or the read token changed: reload the page to log in again.';
  }
  const body = (await response.json()) as { spans?: Span[]; error?: string; count?: number; truncated?: boolean };
  if (!response.ok) return `The trace could not be loaded: ${body.error ?? `status ${response.status}`}.`;
  draw(traceId, body.spans ?? []);
  const shown = body.spans?.length ?? 0;
  // The server sends at most its cap of a huge trace, the first spans by start time.
  const spans = body.truncated === true ? `The first ${shown.toLocaleString('en-US')} of ${(body.count ?? shown).toLocaleString('en-US')} spans (the trace is cut at this size)` : `${shown} spans`;
  return `${spans}, updated ${new Date().toLocaleTimeString()}.`;
}

async function tick(traceId: string): Promise<void> {
  let found: string;
  try {
    found = await load(traceId);
  } catch (error) {
    found = `The trace could not be loaded: ${(error as Error).message}.`;
  }
  const polling = Date.now() < pollUntil;
  statusLine.textContent = polling
    ? `${found} Browser spans arrive a few seconds after the server's; asking again every ${POLL_MS / 1000} s.`
    : `${found} Stopped asking; press Refresh for spans that arrived since.`;
  if (polling) timer = setTimeout(() => void tick(traceId), POLL_MS);
}

function start(traceId: string): void {
  clearTimeout(timer);
  pollUntil = Date.now() + POLL_FOR_MS;
  void tick(traceId);
}

const raw = new URLSearchParams(window.location.search).get('traceId') ?? '';
const traceId = raw.trim().toLowerCase();
document.querySelector<HTMLInputElement>('#trace-form input[name="traceId"]')!.value = raw;
if (raw === '') {
  statusLine.textContent = 'Enter a trace id: 32 hexadecimal digits, as in a traceparent header or the demo site’s Experiments panel.';
  refreshButton.disabled = true;
} else if (!TRACE_ID.test(traceId) || traceId === ZERO_TRACE_ID) {
  statusLine.textContent = `“${raw}” is not a trace id: expected 32 hexadecimal digits, not all zero.`;
  refreshButton.disabled = true;
} else {
  document.title = `variant-lens · trace ${traceId}`;
  refreshButton.addEventListener('click', () => start(traceId));
  start(traceId);
}
