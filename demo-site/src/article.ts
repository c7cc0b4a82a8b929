import { renderRail, showVisitor } from './rail.js';

const READ_NEXT_SIZE = 6;

interface Article {
  contentId: string;
  title: string;
  topic: string;
  tags: string[];
  publishedAt: string;
  body: string[];
}

function contentIdFromPath(): string {
  return decodeURIComponent(window.location.pathname.split('/').filter(Boolean).pop() ?? '');
}

async function loadArticle(container: HTMLElement): Promise<void> {
  const id = contentIdFromPath();
  const userId = window.VariantLens?.visitorId() ?? '';
  // A plain page fetch: the SDK's fetch instrumentation adds traceparent and the visit's baggage.
  const response = await fetch(`/api/content/${encodeURIComponent(id)}?userId=${encodeURIComponent(userId)}`);
  if (!response.ok) {
    container.textContent = response.status === 404 ? 'This article does not exist.' : 'The article could not be loaded.';
    return;
  }
  const article = (await response.json()) as Article;
  document.title = `${article.title} · The Daily Lens`;
  const heading = document.createElement('h1');
  heading.textContent = article.title;
  const meta = document.createElement('p');
  meta.className = 'meta';
  meta.textContent = `${article.topic} · ${new Date(article.publishedAt).toDateString()} · ${article.tags.join(', ')}`;
  const paragraphs = article.body.map((text) => {
    const p = document.createElement('p');
    p.textContent = text;
    return p;
  });
  container.replaceChildren(heading, meta, ...paragraphs);
}

async function loadReadNext(list: HTMLElement): Promise<void> {
  const sdk = window.VariantLens;
  if (sdk === undefined) return;
  const response = await sdk.getRecommendations({ limit: READ_NEXT_SIZE });
  renderRail(list, response);
}

async function main(): Promise<void> {
  showVisitor();
  const container = document.querySelector<HTMLElement>('[data-testid="article"]');
  const list = document.querySelector<HTMLElement>('[data-testid="recommendations"]');
  if (container !== null) await loadArticle(container).catch(() => (container.textContent = 'The article could not be loaded.'));
  if (list !== null) await loadReadNext(list).catch(() => list.replaceChildren());
}

void main();
