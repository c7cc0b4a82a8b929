/** The demo site's article page for a content id. */
export function articleUrl(contentId: string): string {
  return `/articles/${encodeURIComponent(contentId)}`;
}
