/**
 * Viewable impressions, by the IAB definition: at least 50% of a recommendation visible for
 * at least one continuous second. Each item counts once per served list.
 */
import { recommendationClickOf, type RecommendationClick } from './click-tracking.js';

/** IAB: half the pixels in view… */
export const VIEWABLE_RATIO = 0.5;
/** …for one continuous second. */
export const VIEWABLE_DWELL_MS = 1000;
const ITEM_SELECTOR = '[data-rec-content-id]';

/**
 * Calls `onView` once per (served list, content id) when an item has been viewable long
 * enough. Items rendered later are picked up as they appear. Returns a function that stops
 * watching. Without IntersectionObserver (old browsers) nothing is reported.
 */
export function trackViews(root: Document, onView: (view: RecommendationClick) => void, dwellMs = VIEWABLE_DWELL_MS): () => void {
  if (typeof IntersectionObserver === 'undefined' || typeof MutationObserver === 'undefined') return () => {};
  const timers = new Map<Element, ReturnType<typeof setTimeout>>();
  const reported = new Set<string>();
  const intersection = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        const visible = entry.isIntersecting && entry.intersectionRatio >= VIEWABLE_RATIO;
        const pending = timers.get(entry.target);
        if (!visible) {
          if (pending !== undefined) clearTimeout(pending);
          timers.delete(entry.target);
          continue;
        }
        if (pending !== undefined) continue;
        timers.set(
          entry.target,
          setTimeout(() => {
            timers.delete(entry.target);
            const view = recommendationClickOf(entry.target);
            if (view === undefined) return;
            const key = `${view.requestId ?? ''}\u0000${view.contentId}`;
            if (reported.has(key)) return;
            reported.add(key);
            intersection.unobserve(entry.target);
            onView(view);
          }, dwellMs),
        );
      }
    },
    { threshold: [0, VIEWABLE_RATIO, 1] },
  );
  const observeWithin = (node: Node) => {
    if (!(node instanceof Element)) return;
    if (node.matches(ITEM_SELECTOR)) intersection.observe(node);
    node.querySelectorAll(ITEM_SELECTOR).forEach((item) => intersection.observe(item));
  };
  const mutations = new MutationObserver((records) => {
    for (const record of records) record.addedNodes.forEach(observeWithin);
  });
  const start = () => {
    observeWithin(root.documentElement);
    mutations.observe(root.documentElement, { childList: true, subtree: true });
  };
  start();
  return () => {
    mutations.disconnect();
    intersection.disconnect();
    for (const timer of timers.values()) clearTimeout(timer);
    timers.clear();
  };
}
