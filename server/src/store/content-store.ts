import Database from 'better-sqlite3';
import { generateCatalogue, type Article } from '../core/catalogue.js';
import { configureConnection, migrate, type Migration } from './migrations.js';

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE articles (
        content_id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        topic TEXT NOT NULL,
        tags TEXT NOT NULL,
        published_at TEXT NOT NULL,
        popularity INTEGER NOT NULL,
        summary TEXT NOT NULL,
        body TEXT NOT NULL
      );
      CREATE INDEX articles_topic ON articles (topic);
    `,
  },
];

/** How big the generated catalogue is and which seed makes it. */
export interface ContentStoreConfig {
  readonly path: string;
  readonly articleCount: number;
  readonly seed: number;
}

interface ArticleRow {
  content_id: string;
  title: string;
  topic: string;
  tags: string;
  published_at: string;
  popularity: number;
  summary: string;
  body: string;
}

function toArticle(row: ArticleRow): Article {
  return {
    contentId: row.content_id,
    title: row.title,
    topic: row.topic,
    tags: JSON.parse(row.tags) as string[],
    publishedAt: row.published_at,
    popularity: row.popularity,
    summary: row.summary,
    body: JSON.parse(row.body) as string[],
  };
}

/** The content database: articles, generated from a seed on first start. */
export class ContentStore {
  private readonly db: Database.Database;
  private readonly byId: Database.Statement;

  constructor(config: ContentStoreConfig) {
    this.db = new Database(config.path);
    configureConnection(this.db);
    migrate(this.db, MIGRATIONS);
    this.seedIfEmpty(config.articleCount, config.seed);
    this.byId = this.db.prepare('SELECT * FROM articles WHERE content_id = ?');
  }

  private seedIfEmpty(count: number, seed: number): void {
    const { n } = this.db.prepare('SELECT count(*) AS n FROM articles').get() as { n: number };
    if (n > 0) return;
    const insert = this.db.prepare(`INSERT INTO articles VALUES (@contentId, @title, @topic, @tags, @publishedAt, @popularity, @summary, @body)`);
    this.db.transaction(() => {
      for (const article of generateCatalogue(count, seed)) {
        insert.run({ ...article, tags: JSON.stringify(article.tags), body: JSON.stringify(article.body) });
      }
    })();
  }

  getArticle(contentId: string): Article | undefined {
    const row = this.byId.get(contentId) as ArticleRow | undefined;
    return row === undefined ? undefined : toArticle(row);
  }

  /** Every article: the candidate set the rankers score. */
  allArticles(): Article[] {
    return (this.db.prepare('SELECT * FROM articles ORDER BY content_id').all() as ArticleRow[]).map(toArticle);
  }

  close(): void {
    this.db.close();
  }
}
