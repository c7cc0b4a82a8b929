import type { Tracer } from '@opentelemetry/api';
import type { Article } from '../catalogue/catalogue.js';
import type { ContentStore, TopicCount } from '../catalogue/content-store.js';
import { dbQuery } from './traced.js';

/** The content routes' reads, passed through to the content database, each as a database span (no cache: one read per page). */
export class ContentReader {
  constructor(
    private readonly content: ContentStore,
    private readonly tracer: Tracer,
  ) {}

  getArticle(contentId: string): Article | undefined {
    return dbQuery(this.tracer, 'SELECT', 'articles', 'SELECT articles WHERE content_id = ?', () => this.content.getArticle(contentId));
  }

  /** Every topic with its number of articles. */
  topics(): TopicCount[] {
    return dbQuery(this.tracer, 'SELECT', 'articles', 'SELECT topic, count(*) FROM articles GROUP BY topic', () => this.content.topics());
  }

  /** The newest articles of a topic; empty when no article has that topic. */
  newestInTopic(topic: string, limit: number): Article[] {
    return dbQuery(this.tracer, 'SELECT', 'articles', 'SELECT articles WHERE topic = ? ORDER BY published_at DESC LIMIT ?', () => this.content.newestInTopic(topic, limit));
  }
}
