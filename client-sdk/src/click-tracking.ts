/** Automatic click tracking of the recommendation markup, by event delegation. */

/** A click on a rendered recommendation, read from its data attributes. */
export interface RecommendationClick {
  readonly contentId: string;
  readonly position: number;
  readonly requestId: string | undefined;
}

/** Middle button, as reported by `auxclick`. */
const MIDDLE_BUTTON = 1;

/** The recommendation a DOM event landed on, if any. */
export function recommendationClickOf(target: EventTarget | null): RecommendationClick | undefined {
  if (!(target instanceof Element)) return undefined;
  const item = target.closest('[data-rec-content-id]');
  if (item === null) return undefined;
  const contentId = item.getAttribute('data-rec-content-id') ?? '';
  const position = Number(item.getAttribute('data-rec-position'));
  if (contentId === '' || !Number.isInteger(position)) return undefined;
  const requestId = item.closest('[data-rec-request-id]')?.getAttribute('data-rec-request-id') ?? undefined;
  return { contentId, position, requestId };
}

/**
 * Calls `onClick` for primary clicks (also with ctrl/cmd/shift) and middle clicks on
 * `[data-rec-content-id]` elements. Listens in the capture phase so a page that stops
 * propagation still gets its clicks counted. Returns a function that stops listening.
 */
export function trackClicksOn(root: Document, onClick: (click: RecommendationClick) => void): () => void {
  const handle = (event: Event) => {
    if (event.type === 'auxclick' && (event as MouseEvent).button !== MIDDLE_BUTTON) return;
    const click = recommendationClickOf(event.target);
    if (click !== undefined) onClick(click);
  };
  root.addEventListener('click', handle, true);
  root.addEventListener('auxclick', handle, true);
  return () => {
    root.removeEventListener('click', handle, true);
    root.removeEventListener('auxclick', handle, true);
  };
}
