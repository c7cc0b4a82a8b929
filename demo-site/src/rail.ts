/** Renders a served recommendation list with the markup the SDK tracks (see SPEC.md). */

export interface RailResponse {
  readonly requestId: string;
  readonly recommendations: readonly { contentId: string; title: string; url: string; position: number; topic?: string; summary?: string }[];
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
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
    link.append(element('span', 'topic', rec.topic ?? ''), element('span', 'title', rec.title), element('span', 'summary', rec.summary ?? ''));
    const item = document.createElement('li');
    item.append(link);
    list.append(item);
  }
}

/** Shows who the demo is acting as. */
export function showVisitor(): void {
  const slot = document.querySelector('[data-testid="visitor"]');
  const id = window.VariantLens?.visitorId();
  if (slot !== null && id !== undefined) slot.textContent = `Reading as ${id}`;
}
