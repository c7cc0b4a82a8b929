/**
 * Freshness benchmark: from a real click on a recommendation in Chromium to that click
 * counted in `GET /api/experiments/:key/results`. One click at a time, so each is
 * attributable: open the demo home page as a new visitor, read the served list's request id
 * and the visitor's variant, note that variant's clicks in the results, then click a
 * recommendation (the link navigates to its article, as a reader's click does) and read the
 * results every few ms until the count moves. The figure covers the SDK's export, the HTTP
 * hop, the ingest commit and the analysis query; the results are not cached by the server.
 */
import { chromium, type Page } from '@playwright/test';
import { CHROMIUM_ARGS, chromiumExecutable } from '../e2e/chromium.js';
import { E2E_READ_TOKEN } from '../e2e/server-process.js';
import { percentile } from '../server/src/core/statistics.js';
import { printTable, startServer, writeResult } from './bench-lib.js';

/** The read side answers with the read token of the server the benchmark starts. */
const READ = { headers: { authorization: `Bearer ${E2E_READ_TOKEN}` } };

/** Clicks measured per series. */
const CLICKS = Number(process.env.BENCH_FRESHNESS_CLICKS ?? 60);
/** Clicks before measuring, so the figures are not the first page load's JIT and cache warm-up. */
const WARMUP_CLICKS = 2;
/**
 * How long the visitor looks at the rail before clicking, one series each. At 0 the click
 * usually reaches the server before the request that served the rail is stored (the
 * server's spans are written in batches), and is counted only when it is: the hardest case,
 * and the headline figure. After a second the request is stored, so the click's own path
 * is measured alone.
 */
const DWELLS_MS = [0, 1000];
/** How often the results are read while waiting: the resolution of the figure. */
const POLL_MS = 25;
/** Issue 8's target for the 95th percentile. */
const TARGET_P95_MS = 2000;
/** A click not counted by then is lost, and the benchmark fails. */
const GIVE_UP_MS = 30_000;
/** The browser's click_through metric may trail the span; it is waited for this much longer. */
const METRIC_GRACE_MS = 5000;

interface VariantCounts {
  /** Verified clicks: `recommendation.click` spans matched to the request that served them. */
  readonly clicks: number;
  /** Σ `recommendation.click_through` from the browser's metrics. */
  readonly clickThrough: number;
}

interface Sample {
  dwellMs: number;
  user: string;
  variant: string;
  requestId: string;
  /** The request's server span was already stored when the click happened. */
  requestStoredAtClick: boolean;
  /** Node's timestamp before `click()` → the click event in the page. */
  dispatchMs: number | null;
  /** Before `click()` → the results show the click: the figure. */
  freshnessMs: number;
  /** The same for the results' metric view (`metrics.clickThrough`), when it moved in time. */
  metricFreshnessMs: number | null;
  /** How much the variant's clicks went up (1 unless something else clicked). */
  counted: number;
  polls: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** Reads one variant's click counts from the results API, and how long the call took. */
async function readCounts(url: string, key: string, variant: string): Promise<VariantCounts & { callMs: number }> {
  const started = performance.now();
  const response = await fetch(`${url}/api/experiments/${encodeURIComponent(key)}/results`, READ);
  if (response.status !== 200) throw new Error(`results of ${key} answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { variants: { variant: string; clicks: number; metrics: { clickThrough: number } }[] };
  const row = body.variants.find((v) => v.variant === variant);
  return { clicks: row?.clicks ?? 0, clickThrough: row?.metrics.clickThrough ?? 0, callMs: performance.now() - started };
}

/** Polls the results until the variant's clicks rise above `before`; then, for a while, until its metric does too. */
async function waitForClick(url: string, key: string, variant: string, before: VariantCounts, t0: number, callsMs: number[]) {
  let clicksAt: number | undefined;
  let metricAt: number | undefined;
  let counted = 0;
  let polls = 0;
  for (;;) {
    const now = await readCounts(url, key, variant);
    const at = Date.now();
    polls += 1;
    callsMs.push(now.callMs);
    if (clicksAt === undefined && now.clicks > before.clicks) {
      clicksAt = at;
      counted = now.clicks - before.clicks;
    }
    if (metricAt === undefined && now.clickThrough > before.clickThrough) metricAt = at;
    if (clicksAt !== undefined && (metricAt !== undefined || at > clicksAt + METRIC_GRACE_MS)) break;
    if (clicksAt === undefined && at > t0 + GIVE_UP_MS) throw new Error(`a click of ${variant} was not counted within ${GIVE_UP_MS} ms`);
    await sleep(POLL_MS);
  }
  return { freshnessMs: clicksAt - t0, metricFreshnessMs: metricAt === undefined ? null : metricAt - t0, counted, polls };
}

function stats(values: readonly number[]): { n: number; medianMs: number; p95Ms: number; maxMs: number } {
  const sorted = Float64Array.from(values).sort();
  return { n: sorted.length, medianMs: round(percentile(sorted, 0.5)), p95Ms: round(percentile(sorted, 0.95)), maxMs: round(sorted[sorted.length - 1] ?? NaN) };
}

/** What one series needs: the server, the experiment measured, and the page with its click probe. */
interface Setup {
  readonly url: string;
  readonly experiment: { readonly key: string; readonly baggageKey: string };
  readonly page: Page;
  /** The page's click event time of the click being measured (set from the page). */
  readonly probe: { clickEventAt?: number };
  /** Durations of every results call, for the poll's own cost. */
  readonly callsMs: number[];
}

/** One visitor: open the home page, read the rail, wait `dwellMs`, click and wait for the results to count it. */
async function measureClick(setup: Setup, user: string, dwellMs: number): Promise<Sample> {
  const { url, experiment, page, probe } = setup;
  await page.goto(`${url}/?user=${user}`);
  const link = page.locator('[data-rec-content-id]').first();
  await link.waitFor();
  const requestId = (await page.locator('[data-rec-request-id]').getAttribute('data-rec-request-id')) ?? '';
  const variant = await page.evaluate(
    ([id, baggageKey]) => (window as unknown as { VariantLens: { experimentData(id: string): { baggage?: Record<string, string> } } }).VariantLens.experimentData(id).baggage?.[baggageKey],
    [requestId, experiment.baggageKey] as const,
  );
  if (requestId === '' || variant === undefined) throw new Error(`visitor ${user}: no request id or no ${experiment.baggageKey} on the rail`);
  if (dwellMs > 0) await sleep(dwellMs);
  const [before, stored] = await Promise.all([
    readCounts(url, experiment.key, variant),
    fetch(`${url}/api/spans?name=recommendation.request&requestId=${encodeURIComponent(requestId)}`, READ).then(async (r) => ((await r.json()) as { spans: unknown[] }).spans.length > 0),
  ]);
  delete probe.clickEventAt;
  const t0 = Date.now();
  // Polling starts with the click: Playwright's click() returns only once the navigation it caused has started.
  const counted = waitForClick(url, experiment.key, variant, before, t0, setup.callsMs);
  await link.click();
  const seen = await counted;
  const clickEventAt = probe.clickEventAt;
  return { dwellMs, user, variant, requestId, requestStoredAtClick: stored, dispatchMs: clickEventAt === undefined ? null : clickEventAt - t0, ...seen };
}

export async function runFreshnessBench(): Promise<Record<string, unknown>> {
  const server = await startServer();
  const browser = await chromium.launch({ executablePath: chromiumExecutable(), args: CHROMIUM_ARGS });
  try {
    const { experiments } = (await (await fetch(`${server.url}/api/experiments`, READ)).json()) as { experiments: { key: string; baggageKey: string; status: string }[] };
    const experiment = experiments.find((e) => e.status === 'running');
    if (experiment === undefined) throw new Error('no running experiment to measure');
    const context = await browser.newContext();
    const probe: Setup['probe'] = {};
    // The click event's time, taken in the page before the SDK's handler runs (the same wall clock as Node's).
    await context.exposeBinding('freshnessClick', (_source, at: number) => (probe.clickEventAt = at));
    await context.addInitScript(() =>
      window.addEventListener('click', () => void (window as unknown as { freshnessClick(at: number): Promise<void> }).freshnessClick(Date.now()), true),
    );
    const setup: Setup = { url: server.url, experiment, page: await context.newPage(), probe, callsMs: [] };
    let visitors = 0;
    const warmup: Sample[] = [];
    for (let i = 0; i < WARMUP_CLICKS; i += 1) warmup.push(await measureClick(setup, `bench-fresh-${(visitors += 1)}`, 0));
    const samples: Sample[] = [];
    for (const dwellMs of DWELLS_MS) {
      for (let i = 0; i < CLICKS; i += 1) samples.push(await measureClick(setup, `bench-fresh-${(visitors += 1)}`, dwellMs));
    }
    await context.close();

    const known = (values: (number | null)[]) => values.filter((v): v is number => v !== null);
    const series = DWELLS_MS.map((dwellMs) => {
      const of = samples.filter((s) => s.dwellMs === dwellMs);
      const freshness = stats(of.map((s) => s.freshnessMs));
      const metric = stats(known(of.map((s) => s.metricFreshnessMs)));
      return {
        dwellMs,
        ...freshness,
        met: freshness.p95Ms <= TARGET_P95_MS ? 'yes' : 'no',
        metricMedianMs: metric.medianMs,
        metricP95Ms: metric.p95Ms,
        dispatchMedianMs: stats(known(of.map((s) => s.dispatchMs))).medianMs,
        // Without Playwright's own part (actionability checks, input dispatch): from the click event itself.
        fromEventP95Ms: stats(known(of.map((s) => (s.dispatchMs === null ? null : s.freshnessMs - s.dispatchMs)))).p95Ms,
        requestNotYetStored: of.filter((s) => !s.requestStoredAtClick).length,
        countedOtherThanOne: of.filter((s) => s.counted !== 1).length,
        metricNotSeen: of.filter((s) => s.metricFreshnessMs === null).length,
      };
    });
    const resultsCall = stats(setup.callsMs);
    printTable(
      `Freshness: a click in Chromium until GET /api/experiments/${experiment.key}/results counts it (clicks +1), ${CLICKS} clicks per dwell after ${WARMUP_CLICKS} warm-up (target: p95 <= 2,000 ms)`,
      series,
    );
    printTable(`The results call itself, polled every ${POLL_MS} ms`, [resultsCall]);
    const result = { experiment: experiment.key, targetP95Ms: TARGET_P95_MS, pollMs: POLL_MS, chromium: browser.version(), series, resultsCall, samples, warmup };
    console.log(`written ${writeResult('freshness', result)}`);
    return result;
  } finally {
    await browser.close();
    await server.stop();
  }
}
