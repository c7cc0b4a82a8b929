import { setUpMasthead } from './masthead.js';
import { element, lastPathSegment } from './page.js';
import { fillRail } from './rail.js';

/** The topic's newest articles shown; the API allows up to 50. */
const LIST_SIZE = 20;
const RAIL_SIZE = 4;

interface ListedArticle {
  contentId: string;
  title: string;
  url: string;
  summary: string;
  publishedAt: string;
  tags: string[];
}

function listItem(article: ListedArticle): HTMLLIElement {
  const item = element('li');
  item.dataset.contentId = article.contentId;
  const link = element('a', 'title', article.title);
  link.href = article.url;
  const heading = element('h3');
  heading.append(link);
  item.append(heading, element('p', 'meta', `${new Date(article.publishedAt).toDateString()} · ${article.tags.join(', ')}`), element('p', 'summary', article.summary));
  return item;
}

async function loadArticles(topic: string, list: HTMLElement, status: HTMLElement): Promise<void> {
  const userId = window.VariantLens?.visitorId() ?? '';
  const response = await fetch(`/api/content?topic=${encodeURIComponent(topic)}&limit=${LIST_SIZE}&userId=${encodeURIComponent(userId)}`);
  if (!response.ok) {
    const { error } = (await response.json().catch(() => ({ error: `status ${response.status}` }))) as { error: string };
    status.textContent = response.status === 404 ? `There is no topic “${topic}”. Pick one above.` : `The articles could not be loaded (${error}).`;
    return;
  }
  const { articles } = (await response.json()) as { articles: ListedArticle[] };
  list.replaceChildren(...articles.map(listItem));
  status.textContent = `The ${articles.length} newest stories.`;
}

async function main(): Promise<void> {
  const topic = lastPathSegment();
  const panel = setUpMasthead(topic);
  document.title = `${topic} · The Daily Lens`;
  const heading = document.querySelector<HTMLElement>('[data-testid="topic-title"]');
  if (heading !== null) heading.textContent = topic;
  const list = document.querySelector<HTMLElement>('[data-testid="topic-articles"]');
  const status = document.querySelector<HTMLElement>('[data-testid="topic-status"]');
  const rail = document.querySelector<HTMLElement>('[data-testid="recommendations"]');
  await Promise.all([
    list !== null && status !== null ? loadArticles(topic, list, status).catch(() => (status.textContent = 'The articles could not be loaded.')) : undefined,
    rail !== null ? fillRail(rail, document.querySelector('[data-testid="rail-status"]'), RAIL_SIZE, (response) => panel.showRecommendations(response)) : undefined,
  ]);
}

void main();
