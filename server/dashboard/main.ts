/**
 * The results dashboard. Every value that came from telemetry is attacker-controlled, so all
 * text goes into the page through textContent (and Observable Plot, which writes text
 * nodes); nothing is ever assigned to innerHTML.
 */
import * as Plot from '@observablehq/plot';
import { verdictLine, type ExperimentResults, type GuardrailComparison, type VariantResult } from '../../common/src/experiment-results.js';
import { el } from './dom.js';

/** How often results are reloaded while auto-refresh is on. */
const REFRESH_MS = 5000;

interface ExperimentSummary {
  key: string;
  status: string;
  description: string;
}

const fmt = {
  pct: (v: number | null | undefined, digits = 2) => (v === null || v === undefined ? '–' : `${(v * 100).toFixed(digits)}%`),
  num: (v: number | null | undefined, digits = 1) => (v === null || v === undefined ? '–' : v.toFixed(digits)),
  int: (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toLocaleString('en-US')),
  p: (v: number | null | undefined) => (v === null || v === undefined ? '–' : v < 0.0001 ? v.toExponential(1) : v.toFixed(4)),
};

function query(): URLSearchParams {
  const form = document.querySelector<HTMLFormElement>('#filters')!;
  const data = new FormData(form);
  const params = new URLSearchParams();
  for (const name of ['from', 'to']) {
    const value = String(data.get(name) ?? '');
    if (value !== '') params.set(name, new Date(value).toISOString());
  }
  const cohort = String(data.get('cohort') ?? '');
  if (cohort !== '') params.set('cohort', cohort);
  return params;
}

type Column = [string, (v: VariantResult) => string, ((v: VariantResult) => 'significant' | 'guardrail' | undefined)?];

/** Blue: the CTR differs from control (always-valid p, Holm over the treatments, below 5%); safe to read at any time. */
const ctrSignificant = (v: VariantResult) => (v.vsControl?.significant ? 'significant' : undefined);
/** Orange: a guardrail's always-valid sequence excludes zero (5%, per guardrail); its size says whether it matters. */
const guardrail = (g: GuardrailComparison | null | undefined) => (g?.alarm ? 'guardrail' : undefined);

function interval(range: readonly [number | null, number | null], format: (v: number | null) => string): string {
  return range[0] === null ? '–' : `${format(range[0])} – ${format(range[1])}`;
}

/** A guardrail's difference from control and its always-valid sequence. */
function guardrailText(g: GuardrailComparison | null | undefined, format: (v: number | null) => string): string {
  if (g === null || g === undefined) return '–';
  return g.diffCs[0] === null ? format(g.diff) : `${format(g.diff)} (${interval(g.diffCs, format)})`;
}

const signedPct = (digits: number) => (v: number | null) => (v === null ? '–' : `${v > 0 ? '+' : ''}${(v * 100).toFixed(digits)}%`);

const IDENTITY_COLUMNS: Column[] = [
  ['variant', (v) => v.variant],
  ['users', (v) => fmt.int(v.users)],
  ['requests', (v) => fmt.int(v.requests)],
  ['impressions', (v) => fmt.int(v.impressions)],
  ['clicks', (v) => fmt.int(v.clicks)],
  ['rejected', (v) => fmt.int(v.rejectedClicks)],
  ['CTR', (v) => fmt.pct(v.ctr)],
  ['CTR 95% CI', (v) => (v.ctr === null ? '–' : `${fmt.pct(v.ctrCi95[0])} – ${fmt.pct(v.ctrCi95[1])}`)],
];

/** The primary metric, always-valid: safe to read at every refresh. */
const CLICK_COLUMNS: Column[] = [
  ...IDENTITY_COLUMNS,
  ['lift vs control', (v) => (v.vsControl ? signedPct(1)(v.vsControl.relativeLift) : '–'), ctrSignificant],
  ['lift range', (v) => (v.vsControl ? interval(v.vsControl.sequential.relativeLiftCs, signedPct(1)) : '–')],
  ['diff range', (v) => (v.vsControl ? interval(v.vsControl.sequential.diffCs, signedPct(2)) : '–')],
  ['p (Holm)', (v) => (v.vsControl?.sequential.usersMissing ? 'collecting' : fmt.p(v.vsControl?.sequential.pValueHolm)), ctrSignificant],
];

/** The same comparison as a fixed-horizon test: valid only once, at the planned sample size. */
const FIXED_HORIZON_COLUMNS: Column[] = [
  ...IDENTITY_COLUMNS,
  ['lift vs control', (v) => (v.vsControl ? signedPct(1)(v.vsControl.relativeLift) : '–'), ctrSignificant],
  ['diff 95% CI (fixed horizon)', (v) => (v.vsControl ? interval(v.vsControl.diffCi95, signedPct(2)) : '–')],
  ['p (fixed horizon)', (v) => fmt.p(v.vsControl?.pValue)],
  ['p (Holm)', (v) => fmt.p(v.vsControl?.pValueHolm)],
];

/** What the variant does to the service: latency, errors, cache, delivery, and the metric cross-check. */
const GUARDRAIL_COLUMNS: Column[] = [
  ['variant', (v) => v.variant],
  ['latency p50 / p95 / p99 ms', (v) => `${fmt.num(v.latencyMs.p50)} / ${fmt.num(v.latencyMs.p95)} / ${fmt.num(v.latencyMs.p99)}`],
  ['mean latency vs control (ms)', (v) => guardrailText(v.guardrails?.latencyMeanMs, (x) => fmt.num(x, 2)), (v) => guardrail(v.guardrails?.latencyMeanMs)],
  ['p50 vs control (ms)', (v) => (v.guardrails?.latencyP50Ms ? guardrailText(v.guardrails.latencyP50Ms, (x) => fmt.num(x, 2)) : fmt.num(v.guardrails?.latencyP50DiffMs, 2)), (v) => guardrail(v.guardrails?.latencyP50Ms)],
  ['p95 vs control (ms)', (v) => (v.guardrails?.latencyP95Ms ? guardrailText(v.guardrails.latencyP95Ms, (x) => fmt.num(x, 2)) : fmt.num(v.guardrails?.latencyP95DiffMs, 2)), (v) => guardrail(v.guardrails?.latencyP95Ms)],
  ['errors', (v) => fmt.pct(v.errorRate)],
  ['errors vs control', (v) => guardrailText(v.guardrails?.errorRate, signedPct(2)), (v) => guardrail(v.guardrails?.errorRate)],
  ['cache hits', (v) => fmt.pct(v.cacheHitRate, 1)],
  ['cache hits vs control', (v) => guardrailText(v.guardrails?.cacheHitRate, signedPct(1)), (v) => guardrail(v.guardrails?.cacheHitRate)],
  ['delivery', (v) => fmt.pct(v.delivery.share, 1)],
  ['delivery vs control', (v) => guardrailText(v.guardrails?.delivery, signedPct(1)), (v) => guardrail(v.guardrails?.delivery)],
  ['metrics CTR (Σclick_through / Σimpressions)', (v) => fmt.pct(v.metrics.ctr)],
];

/** Whether the fixed-horizon view is on (the toggle in the header). */
function fixedHorizon(): boolean {
  return document.querySelector<HTMLInputElement>('input[name="fixedHorizon"]')?.checked ?? false;
}

/** The verdicts in words, one per treatment: what a reader may conclude now. */
function verdicts(results: ExperimentResults): HTMLElement {
  const list = el('ul', undefined, 'verdicts');
  list.setAttribute('aria-label', 'Verdicts');
  for (const v of results.variants) {
    if (v.vsControl === null) continue;
    const item = el('li', verdictLine(v.variant, v.vsControl.verdict.text), `verdict ${v.vsControl.verdict.kind}`);
    item.dataset.variant = v.variant;
    list.append(item);
  }
  return list;
}

function table(results: ExperimentResults, caption: string, columns: readonly Column[]): HTMLElement {
  const node = el('table');
  node.createCaption().textContent = caption;
  const head = node.createTHead().insertRow();
  for (const [title] of columns) head.append(el('th', title));
  const body = node.createTBody();
  for (const variant of results.variants) {
    const row = body.insertRow();
    row.dataset.variant = variant.variant;
    for (const [, value, highlight] of columns) row.append(el('td', value(variant), highlight?.(variant)));
  }
  // Scrolls on its own on a narrow screen, leaving the headings and charts in place.
  const wrapper = el('div', undefined, 'table-scroll');
  wrapper.append(node);
  return wrapper;
}

function legend(results: ExperimentResults): HTMLElement {
  const node = el('p', undefined, 'legend');
  const sequential = results.variants.find((v) => v.vsControl !== null)?.vsControl;
  const level = sequential ? `${+(sequential.sequential.level * 100).toFixed(2)}%` : '';
  node.append(
    el('span', 'Blue', 'significant'),
    ': the CTR differs from control — safe to act on at any moment (always-valid, Holm’s correction over the treatments). ',
    el('span', 'Orange', 'guardrail'),
    ': a guardrail differs from control (always-valid, 5% each): read its size to judge whether it matters. ',
    `Ranges are ${level} confidence sequences (guardrails: 95%): they hold however often the page refreshes.`,
  );
  if (fixedHorizon() && sequential) {
    node.append(
      ` Fixed-horizon figures are valid only at the planned sample size (${sequential.fixedHorizon.plannedUsersPerArm.toLocaleString('en-US')} users per arm), read once: ${sequential.fixedHorizon.reached ? 'reached' : 'not reached yet, so they overstate the evidence'}.`,
    );
  }
  return node;
}

function chart(title: string, plot: () => Element): HTMLElement {
  const box = el('div', undefined, 'chart');
  box.append(el('h3', title));
  try {
    box.append(plot());
  } catch (error) {
    box.append(el('p', `chart unavailable: ${(error as Error).message}`));
  }
  return box;
}

/** Plot's default (640 px) would be scaled down to a third-width column, shrinking its text. */
const CHART_WIDTH = 400;

function charts(results: ExperimentResults): HTMLElement {
  const grid = el('div', undefined, 'charts');
  // One colour per variant in every chart of the experiment, control first.
  const variants = results.variants.map((v) => v.variant);
  const color = { legend: true, domain: variants, scheme: 'tableau10' } as const;
  const withCtr = results.variants.filter((v) => v.ctr !== null);
  grid.append(
    chart('CTR with 95% CI', () =>
      Plot.plot({
        width: CHART_WIDTH,
        height: 220,
        marginLeft: 110,
        x: { label: 'CTR', tickFormat: '.1%', ticks: 5 },
        y: { label: null, domain: variants },
        color: { ...color, legend: false },
        marks: [
          Plot.ruleY(withCtr, { y: 'variant', x1: (d: VariantResult) => d.ctrCi95[0], x2: (d: VariantResult) => d.ctrCi95[1], stroke: 'variant' }),
          Plot.dot(withCtr, { y: 'variant', x: 'ctr', fill: 'variant', r: 4 }),
        ],
      }),
    ),
  );
  // Both timeline charts share their size and time axis (the users' first exposure).
  const overTime = { width: CHART_WIDTH, height: 220, x: { label: 'first exposure', type: 'time', ticks: 4 } } as const;
  // Over time: each treatment's CTR difference from control with its confidence sequence (valid
  // at every moment, so the whole band may be read), and users per variant (SRM at a glance).
  const over = results.timeline.flatMap((p) =>
    Object.entries(p.diff).flatMap(([variant, d]) => (d === null ? [] : [{ variant, at: new Date(p.atMs), diff: d.diff, lo: d.diffCs[0], hi: d.diffCs[1] }])),
  );
  grid.append(
    chart('CTR difference from control over time (always-valid range)', () =>
      Plot.plot({
        ...overTime,
        y: { label: 'difference', tickFormat: '+.1%', grid: true },
        color: { ...color, legend: over.length > 0 },
        marks: [
          Plot.ruleY([0]),
          Plot.areaY(over, { x: 'at', y1: 'lo', y2: 'hi', fill: 'variant', fillOpacity: 0.15 }),
          Plot.lineY(over, { x: 'at', y: 'diff', stroke: 'variant' }),
          ...(over.length === 0 ? [Plot.text(['fewer than 100 users per arm so far'], { frameAnchor: 'middle' })] : []),
        ],
      }),
    ),
  );
  const enrolled = results.timeline.flatMap((p) => Object.entries(p.users).map(([variant, users]) => ({ variant, at: new Date(p.atMs), users })));
  grid.append(
    chart('Users per variant over time', () =>
      Plot.plot({
        ...overTime,
        y: { label: 'users', grid: true },
        color,
        marks: [Plot.lineY(enrolled, { x: 'at', y: 'users', stroke: 'variant' })],
      }),
    ),
  );
  const latency = results.variants.flatMap((v) => v.latencyDistribution.map((b, i) => ({ variant: v.variant, bucket: b.upToMs === null ? 'more' : `≤${b.upToMs}`, order: i, share: v.requests > 0 ? b.count / v.requests : 0 })));
  grid.append(
    chart('Request latency distribution (share of requests)', () =>
      Plot.plot({
        width: CHART_WIDTH,
        height: 220,
        marginBottom: 45,
        x: { label: 'ms', domain: [...new Set(latency.sort((a, b) => a.order - b.order).map((d) => d.bucket))], tickRotate: -45 },
        y: { label: 'share', tickFormat: '%' },
        color,
        marks: [Plot.lineY(latency, { x: 'bucket', y: 'share', stroke: 'variant', marker: true })],
      }),
    ),
  );
  const downstream = results.variants.flatMap((v) => Object.entries(v.downstream).map(([name, d]) => ({ variant: v.variant, name, p50: d.p50Ms ?? 0, p95: d.p95Ms ?? 0 })));
  grid.append(
    chart('Downstream span durations (ms; ● p95, ○ p50)', () =>
      Plot.plot({
        width: CHART_WIDTH,
        height: 50 + 24 * Math.max(1, new Set(downstream.map((d) => d.name)).size),
        marginLeft: 200,
        x: { label: 'ms', type: 'log', tickFormat: '~g' },
        y: { label: null },
        color,
        marks: [
          Plot.dot(downstream.filter((d) => d.p95 > 0), { x: 'p95', y: 'name', fill: 'variant', r: 4 }),
          Plot.dot(downstream.filter((d) => d.p50 > 0), { x: 'p50', y: 'name', stroke: 'variant', r: 4 }),
        ],
      }),
    ),
  );
  return grid;
}

function render(results: ExperimentResults, summary: ExperimentSummary): HTMLElement {
  const section = el('section', undefined, 'experiment');
  section.dataset.experiment = results.experiment;
  section.append(el('h2', results.experiment));
  const status = results.status === 'concluded' ? `concluded, winner ${results.winner ?? '?'}` : 'running';
  section.append(el('p', `${summary.description} · ${status} · baggage key ${results.baggageKey} · control variant ${results.control}`, 'meta'));
  const srm = results.srm;
  if (srm.flagged) {
    section.append(
      el('p', `Sample-ratio mismatch (always-valid p = ${fmt.p(srm.sequentialPValue)}): users ${JSON.stringify(srm.users)} against expected shares ${JSON.stringify(srm.expectedShares)}.`, 'warning'),
    );
  } else section.append(el('p', `Sample ratio OK (always-valid p = ${fmt.p(srm.sequentialPValue)}; chi-square p = ${fmt.p(srm.pValue)}, valid for one look only).`, 'ok'));
  section.append(verdicts(results));
  for (const warning of results.warnings.filter((w) => !w.startsWith('Sample-ratio'))) section.append(el('p', warning, 'warning'));
  if (results.rejectedClicks.unknownRequest + results.rejectedClicks.variantMismatch > 0) {
    section.append(el('p', `Rejected clicks: ${results.rejectedClicks.unknownRequest} naming no served request, ${results.rejectedClicks.variantMismatch} claiming another variant.`, 'meta'));
    const claimed = el('ul', undefined, 'meta');
    claimed.setAttribute('aria-label', 'Rejected clicks by the variant they claimed');
    for (const [variant, count] of Object.entries(results.rejectedClicks.unknownRequestByClaimedVariant)) {
      claimed.append(el('li', `${count} claiming “${variant}”`));
    }
    section.append(claimed);
  }
  const clicks = fixedHorizon()
    ? table(results, 'Clicks — fixed horizon: valid only at the planned sample size', FIXED_HORIZON_COLUMNS)
    : table(results, 'Clicks — always valid: safe to read at any time', CLICK_COLUMNS);
  section.append(clicks, table(results, 'Guardrails — difference from control (always-valid 95% range), user as the unit', GUARDRAIL_COLUMNS), legend(results), charts(results));
  return section;
}

async function refresh(): Promise<void> {
  const container = document.querySelector<HTMLElement>('#experiments')!;
  const status = document.querySelector<HTMLElement>('[data-testid="updated"]')!;
  try {
    const listed = await fetch('/api/experiments');
    if (listed.status === 401) {
      status.textContent = 'The login has expired or the read token changed: reload the page to log in again.';
      return;
    }
    const list = (await listed.json()) as { experiments: ExperimentSummary[] };
    const params = query();
    const sections: HTMLElement[] = [];
    for (const experiment of list.experiments) {
      const response = await fetch(`/api/experiments/${encodeURIComponent(experiment.key)}/results?${params.toString()}`);
      const body = (await response.json()) as ExperimentResults | { error: string };
      if ('error' in body) {
        const section = el('section', undefined, 'experiment');
        section.append(el('h2', experiment.key), el('p', body.error, 'warning'));
        sections.push(section);
      } else sections.push(render(body, experiment));
    }
    container.replaceChildren(...sections);
    status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    status.textContent = `Could not load results: ${(error as Error).message}`;
  }
}

document.querySelector('input[name="fixedHorizon"]')!.addEventListener('change', () => void refresh());
document.querySelector('#filters')!.addEventListener('submit', (event) => {
  event.preventDefault();
  void refresh();
});
setInterval(() => {
  const auto = document.querySelector<HTMLInputElement>('input[name="auto"]');
  if (auto?.checked && document.visibilityState === 'visible') void refresh();
}, REFRESH_MS);
void refresh();
