import { setUpMasthead } from './masthead.js';
import { element, lastPathSegment, topicUrl } from './page.js';
import { fillRail } from './rail.js';

const READ_NEXT_SIZE = 6;

interface Article {
  contentId: string;
  title: string;
  topic: string;
  tags: string[];
  publishedAt: string;
  body: string[];
}

async function loadArticle(container: HTMLElement): Promise<void> {
  const id = lastPathSegment();
  const userId = window.VariantLens?.visitorId() ?? '';
  // A plain page fetch: the SDK's fetch instrumentation adds traceparent and the visit's baggage.
  const response = await fetch(`/api/content/${encodeURIComponent(id)}?userId=${encodeURIComponent(userId)}`);
  if (!response.ok) {
    container.textContent = response.status === 404 ? 'This article does not exist.' : 'The article could not be loaded.';
    return;
  }
  const article = (await response.json()) as Article;
  document.title = `${article.title} · The Daily Lens`;
  const topic = element('a', 'topic-link', article.topic);
  topic.href = topicUrl(article.topic);
  const meta = element('p', 'meta');
  meta.append(topic, ` · ${new Date(article.publishedAt).toDateString()} · ${article.tags.join(', ')}`);
  container.replaceChildren(element('h1', undefined, article.title), meta, ...article.body.map((text) => element('p', undefined, text)));
}

async function main(): Promise<void> {
  const panel = setUpMasthead();
  const container = document.querySelector<HTMLElement>('[data-testid="article"]');
  const list = document.querySelector<HTMLElement>('[data-testid="recommendations"]');
  if (container !== null) await loadArticle(container).catch(() => (container.textContent = 'The article could not be loaded.'));
  if (list !== null) await fillRail(list, document.querySelector('[data-testid="rail-status"]'), READ_NEXT_SIZE, (response) => panel.showRecommendations(response));
}

void main();
