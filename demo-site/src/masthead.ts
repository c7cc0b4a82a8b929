/** The masthead every demo page shares: who is reading, the topics, and the experiments panel. */
import { element, topicUrl } from './page.js';
import { VariantPanel } from './panel.js';

interface TopicCount {
  topic: string;
  count: number;
}

/** Fills the topic navigation from `GET /api/topics`; without it the masthead simply has none. */
async function fillTopicNav(nav: HTMLElement, current: string | undefined): Promise<void> {
  const response = await fetch('/api/topics');
  if (!response.ok) return;
  const { topics } = (await response.json()) as { topics: TopicCount[] };
  nav.replaceChildren(
    ...topics.map(({ topic }) => {
      const link = element('a', undefined, topic);
      link.href = topicUrl(topic);
      if (topic === current) link.setAttribute('aria-current', 'page');
      return link;
    }),
  );
}

/**
 * Completes the page's `header.masthead`: the visitor, a topic navigation (`current` marks
 * the topic page being read) and the experiments panel, which the page then feeds.
 */
export function setUpMasthead(current?: string): VariantPanel {
  const masthead = document.querySelector<HTMLElement>('header.masthead') ?? document.body;
  const visitorId = window.VariantLens?.visitorId();
  const visitor = masthead.querySelector('[data-testid="visitor"]');
  if (visitor !== null && visitorId !== undefined) visitor.textContent = `Reading as ${visitorId}`;
  const nav = element('nav', 'topic-nav');
  nav.setAttribute('aria-label', 'Topics');
  nav.dataset.testid = 'topic-nav';
  masthead.querySelector('.brand')?.after(nav);
  fillTopicNav(nav, current).catch(() => nav.replaceChildren());
  return new VariantPanel(masthead, visitorId);
}
