/**
 * The "Experiments" panel: who the demo reads as, that visitor's variants, and the trace of
 * the last recommendations request with a link to the trace view. Everything the server
 * sent goes into the page as text or attribute values, never as markup.
 */
import { element } from './page.js';

/** What the panel reads from a recommendations response. */
export interface PanelResponse {
  readonly experiments: Readonly<Record<string, string>>;
  readonly baggage: Readonly<Record<string, string>>;
  readonly trace?: { readonly traceId: string; readonly spanId: string } | null;
}

/** The dashboard's trace view; it takes the trace id as `?traceId=`. */
export const TRACE_VIEW_PATH = '/dashboard/trace.html';
/** Remembers for the visit whether the panel is open, so it stays open from page to page. */
const OPEN_KEY = 'daily-lens.variant-panel-open';
const PANEL_ID = 'variant-panel';

function rememberedOpen(): boolean {
  try {
    return sessionStorage.getItem(OPEN_KEY) === 'true';
  } catch {
    return false;
  }
}

function rememberOpen(open: boolean): void {
  try {
    sessionStorage.setItem(OPEN_KEY, String(open));
  } catch {
    // Storage is off (private mode, policy): the panel just starts closed on the next page.
  }
}

/** A toggle button and the panel it opens, appended to `host` (the masthead). */
export class VariantPanel {
  private readonly toggle: HTMLButtonElement;
  private readonly panel: HTMLElement;
  private readonly experiments: HTMLDListElement;
  private readonly source: HTMLElement;
  private readonly baggage: HTMLElement;
  private readonly trace: HTMLElement;
  private served = false;
  private assignmentsAsked = false;

  constructor(
    host: HTMLElement,
    private readonly visitorId: string | undefined,
  ) {
    this.toggle = element('button', 'panel-toggle', 'Experiments');
    this.toggle.type = 'button';
    this.toggle.setAttribute('aria-controls', PANEL_ID);
    this.toggle.setAttribute('aria-expanded', 'false');
    this.toggle.dataset.testid = 'variant-panel-toggle';

    this.panel = element('section', 'variant-panel');
    this.panel.id = PANEL_ID;
    this.panel.hidden = true;
    this.panel.dataset.testid = 'variant-panel';
    this.panel.setAttribute('aria-labelledby', `${PANEL_ID}-title`);
    const title = element('h2', undefined, 'Your experiments');
    title.id = `${PANEL_ID}-title`;

    const visitor = element('p', 'panel-visitor', 'Visitor ');
    const id = element('code', undefined, visitorId ?? 'unknown (the SDK did not load)');
    id.dataset.testid = 'panel-visitor';
    visitor.append(id);

    this.experiments = element('dl', 'panel-experiments');
    this.experiments.dataset.testid = 'panel-experiments';
    this.source = element('p', 'panel-muted', 'Open the panel to load your variants.');
    this.source.dataset.testid = 'panel-source';
    this.baggage = element('p', 'panel-muted');
    this.trace = element('p', 'panel-trace', 'No recommendations request on this page yet.');
    this.trace.dataset.testid = 'panel-trace';

    this.panel.append(title, visitor, this.switchForm(), this.experiments, this.source, this.baggage, this.trace);
    host.append(this.toggle, this.panel);

    this.toggle.addEventListener('click', () => this.setOpen(this.panel.hidden));
    this.panel.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape') return;
      this.setOpen(false);
      this.toggle.focus();
    });
    if (rememberedOpen()) this.setOpen(true);
  }

  /** Shows the variants and the trace that came with a recommendations response. */
  showRecommendations(response: PanelResponse): void {
    this.served = true;
    this.showVariants(response.experiments, response.baggage, 'From the last recommendations response.');
    this.trace.replaceChildren(element('span', undefined, 'Last recommendations request: '));
    if (response.trace === null || response.trace === undefined) {
      this.trace.append(element('span', undefined, 'no trace (the server runs without telemetry).'));
      return;
    }
    const link = element('a', 'panel-trace-link', `trace ${response.trace.traceId}`);
    link.href = `${TRACE_VIEW_PATH}?traceId=${encodeURIComponent(response.trace.traceId)}`;
    link.dataset.testid = 'panel-trace-link';
    // The trace view is the team's read side: it opens for a browser logged in with the read token.
    this.trace.append(link, element('span', 'panel-muted', ' (for the team: opens after logging in with the read token)'));
  }

  private setOpen(open: boolean): void {
    this.panel.hidden = !open;
    this.toggle.setAttribute('aria-expanded', String(open));
    rememberOpen(open);
    if (open && !this.served) void this.loadAssignments();
  }

  /** Before any recommendations arrive, the variants come from `GET /api/assignments`. */
  private async loadAssignments(): Promise<void> {
    if (this.assignmentsAsked || this.visitorId === undefined) return;
    this.assignmentsAsked = true;
    this.source.textContent = 'Loading your variants…';
    try {
      const response = await fetch(`/api/assignments?userId=${encodeURIComponent(this.visitorId)}`);
      if (!response.ok) throw new Error(`status ${response.status}`);
      const body = (await response.json()) as PanelResponse;
      // A recommendations response that arrived meanwhile is the newer word.
      if (!this.served) this.showVariants(body.experiments, body.baggage, 'From GET /api/assignments (no recommendations on this page yet).');
    } catch (error) {
      this.assignmentsAsked = false;
      if (!this.served) this.source.textContent = `Your variants could not be loaded (${(error as Error).message}).`;
    }
  }

  private showVariants(experiments: PanelResponse['experiments'], baggage: PanelResponse['baggage'], source: string): void {
    const rows = Object.entries(experiments).map(([key, variant]) => {
      const row = element('div', 'panel-row');
      row.dataset.experiment = key;
      row.append(element('dt', undefined, key), element('dd', undefined, variant));
      return row;
    });
    this.experiments.replaceChildren(...rows);
    this.source.textContent = rows.length === 0 ? `No experiments. ${source}` : source;
    const entries = Object.entries(baggage).map(([key, value]) => `${key}=${value}`);
    this.baggage.textContent = entries.length === 0 ? 'No baggage rides on this visit’s requests.' : `Baggage on this visit’s requests: ${entries.join(', ')}`;
  }

  /** `?user=ID` switches the visitor; this form writes it for you. */
  private switchForm(): HTMLFormElement {
    const form = element('form', 'panel-switch');
    form.method = 'get';
    form.action = window.location.pathname;
    const label = element('label', undefined, 'Read as ');
    const input = element('input');
    input.name = 'user';
    input.required = true;
    input.maxLength = 128;
    input.placeholder = 'u00042';
    input.autocomplete = 'off';
    label.append(input);
    form.append(element('span', 'panel-muted', 'Add ?user=ID to the address to switch the visitor. '), label, element('button', undefined, 'Switch'));
    return form;
  }
}
