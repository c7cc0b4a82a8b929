/** What every demo page's script shares: building elements as text, and reading its own address. */

/** A new element; its text goes in through textContent, never as markup. */
export function element<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className !== undefined) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The last segment of the page's path, decoded: the id in `/articles/:id`, the topic in `/topics/:topic`. */
export function lastPathSegment(): string {
  const segment = window.location.pathname.split('/').filter(Boolean).pop() ?? '';
  try {
    return decodeURIComponent(segment);
  } catch {
    // A malformed escape: the raw segment is what the visitor typed, and the API will refuse it by name.
    return segment;
  }
}

/** The topic page of a topic. */
export function topicUrl(topic: string): string {
  return `/topics/${encodeURIComponent(topic)}`;
}
