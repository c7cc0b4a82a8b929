/** Renders a served recommendation list with the markup the SDK tracks (see SPEC.md). */
import { element } from './page.js';

export interface RailResponse {
  readonly requestId: string;
  readonly recommendations: readonly { contentId: string; title: string; url: string; position: number; topic?: string; summary?: string }[];
}

/** Fills `list` with one link per recommendation; all text goes in through textContent. */
export function renderRail(list: HTMLElement, response: RailResponse): void {
  list.replaceChildren();
  list.setAttribute('data-rec-request-id', response.requestId);
  for (const rec of response.recommendations) {
    const link = document.createElement('a');
    link.href = rec.url;
    link.setAttribute('data-rec-content-id', rec.contentId);
    link.setAttribute('data-rec-position', String(rec.position));
    // The topic stays a label here: the whole card is already a link, and links do not nest.
    link.append(element('span', 'topic', rec.topic ?? ''), element('span', 'title', rec.title), element('span', 'summary', rec.summary ?? ''));
    const item = document.createElement('li');
    item.append(link);
    list.append(item);
  }
}

type Served = Awaited<ReturnType<NonNullable<Window['VariantLens']>['getRecommendations']>>;

/**
 * Asks the SDK for `limit` recommendations and renders them into `list`; `status` says
 * what is happening until they arrive, and why when they cannot. `onServed` gets the response.
 */
export async function fillRail(list: HTMLElement, status: HTMLElement | null, limit: number, onServed: (response: Served) => void): Promise<void> {
  try {
    const sdk = window.VariantLens;
    if (sdk === undefined) throw new Error('the variant-lens SDK did not load');
    const response = await sdk.getRecommendations({ limit });
    renderRail(list, response);
    status?.remove();
    onServed(response);
  } catch (error) {
    if (status !== null) status.textContent = `Recommendations are unavailable right now (${(error as Error).message}).`;
  }
}
