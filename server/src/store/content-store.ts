import Database from 'better-sqlite3';
import { coOccurrence, generateAudience } from '../core/audience.js';
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
  {
    version: 2,
    sql: `
      CREATE INDEX articles_popularity ON articles (popularity DESC);
      CREATE INDEX articles_published ON articles (published_at DESC);
      CREATE TABLE users (user_id TEXT PRIMARY KEY, preferences TEXT NOT NULL);
      CREATE TABLE clicks (user_id TEXT NOT NULL, seq INTEGER NOT NULL, content_id TEXT NOT NULL, PRIMARY KEY (user_id, seq)) WITHOUT ROWID;
      CREATE TABLE neighbours (item TEXT NOT NULL, other TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (item, other)) WITHOUT ROWID;
      CREATE INDEX neighbours_strength ON neighbours (item, count DESC);
    `,
  },
  {
    version: 3,
    // A topic page lists the topic's newest articles.
    sql: `CREATE INDEX articles_topic_published ON articles (topic, published_at DESC);`,
  },
];

/** Strongest co-clicked items kept per item. */
const NEIGHBOURS_PER_ITEM = 50;

/** How big the generated catalogue and audience are, and which seed makes them. */
export interface ContentStoreConfig {
  readonly path: string;
  readonly articleCount: number;
  readonly userCount: number;
  readonly seed: number;
  /** Open read-only (the feature store): nothing is generated or migrated. */
  readonly readonly?: boolean;
}

/** A topic and how many articles it has. */
export interface TopicCount {
  readonly topic: string;
  readonly count: number;
}

/** A user's stored profile, as the feature store reads it. */
export interface StoredUser {
  readonly userId: string;
  readonly preferences: Record<string, number>;
  /** Clicked content ids, oldest first. */
  readonly history: string[];
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
    this.db = new Database(config.path, { readonly: config.readonly ?? false });
    if (!config.readonly) {
      configureConnection(this.db);
      migrate(this.db, MIGRATIONS);
      this.seedIfEmpty(config);
    }
    this.byId = this.db.prepare('SELECT * FROM articles WHERE content_id = ?');
  }

  /** Generates the catalogue, the audience and its co-occurrence once, on first start. */
  private seedIfEmpty(config: ContentStoreConfig): void {
    const articles = (this.db.prepare('SELECT count(*) AS n FROM articles').get() as { n: number }).n;
    const users = (this.db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
    if (articles > 0 && users > 0) return;
    const catalogue = generateCatalogue(config.articleCount, config.seed);
    const audience = generateAudience(config.userCount, catalogue, config.seed + 1);
    const insertArticle = this.db.prepare(`INSERT OR REPLACE INTO articles VALUES (@contentId, @title, @topic, @tags, @publishedAt, @popularity, @summary, @body)`);
    const insertUser = this.db.prepare('INSERT OR REPLACE INTO users VALUES (?, ?)');
    const insertClick = this.db.prepare('INSERT OR REPLACE INTO clicks VALUES (?, ?, ?)');
    const insertNeighbour = this.db.prepare('INSERT OR REPLACE INTO neighbours VALUES (?, ?, ?)');
    this.db.transaction(() => {
      for (const article of catalogue) {
        insertArticle.run({ ...article, tags: JSON.stringify(article.tags), body: JSON.stringify(article.body) });
      }
      for (const user of audience) {
        insertUser.run(user.userId, JSON.stringify(user.preferences));
        user.history.forEach((contentId, seq) => insertClick.run(user.userId, seq, contentId));
      }
      for (const [item, others] of coOccurrence(audience.map((u) => u.history), NEIGHBOURS_PER_ITEM)) {
        for (const [other, count] of others) insertNeighbour.run(item, other, count);
      }
    })();
  }

  /** The most popular articles. */
  popular(limit: number): Article[] {
    return (this.db.prepare('SELECT * FROM articles ORDER BY popularity DESC, content_id LIMIT ?').all(limit) as ArticleRow[]).map(toArticle);
  }

  /** The newest articles. */
  recent(limit: number): Article[] {
    return (this.db.prepare('SELECT * FROM articles ORDER BY published_at DESC, content_id LIMIT ?').all(limit) as ArticleRow[]).map(toArticle);
  }

  /** The most popular articles of one topic. */
  popularInTopic(topic: string, limit: number): Article[] {
    return (this.db.prepare('SELECT * FROM articles WHERE topic = ? ORDER BY popularity DESC, content_id LIMIT ?').all(topic, limit) as ArticleRow[]).map(toArticle);
  }

  /** The newest articles of one topic; empty for a topic with no articles. */
  newestInTopic(topic: string, limit: number): Article[] {
    return (this.db.prepare('SELECT * FROM articles WHERE topic = ? ORDER BY published_at DESC, content_id LIMIT ?').all(topic, limit) as ArticleRow[]).map(toArticle);
  }

  /** Every topic with its number of articles, by name. */
  topics(): TopicCount[] {
    return this.db.prepare('SELECT topic, count(*) AS count FROM articles GROUP BY topic ORDER BY topic').all() as TopicCount[];
  }

  /** Articles by id, in no particular order; unknown ids are skipped. */
  articlesByIds(ids: readonly string[]): Article[] {
    if (ids.length === 0) return [];
    const rows = this.db.prepare(`SELECT * FROM articles WHERE content_id IN (SELECT value FROM json_each(?))`).all(JSON.stringify(ids)) as ArticleRow[];
    return rows.map(toArticle);
  }

  /** For each item, its co-clicked items with counts, strongest first, at most `perItem`. */
  neighbours(items: readonly string[], perItem: number): Map<string, [string, number][]> {
    const result = new Map<string, [string, number][]>();
    if (items.length === 0) return result;
    const rows = this.db
      .prepare(
        `SELECT item, other, count FROM (
           SELECT item, other, count, row_number() OVER (PARTITION BY item ORDER BY count DESC, other) AS rank
           FROM neighbours WHERE item IN (SELECT value FROM json_each(?))
         ) WHERE rank <= ?`,
      )
      .all(JSON.stringify(items), perItem) as { item: string; other: string; count: number }[];
    for (const row of rows) {
      const list = result.get(row.item) ?? [];
      list.push([row.other, row.count]);
      result.set(row.item, list);
    }
    return result;
  }

  /** A stored user's preferences and click history, or undefined for an unknown visitor. */
  user(userId: string): StoredUser | undefined {
    const row = this.db.prepare('SELECT preferences FROM users WHERE user_id = ?').get(userId) as { preferences: string } | undefined;
    if (row === undefined) return undefined;
    const history = this.db.prepare('SELECT content_id FROM clicks WHERE user_id = ? ORDER BY seq').pluck().all(userId) as string[];
    return { userId, preferences: JSON.parse(row.preferences) as Record<string, number>, history };
  }

  getArticle(contentId: string): Article | undefined {
    const row = this.byId.get(contentId) as ArticleRow | undefined;
    return row === undefined ? undefined : toArticle(row);
  }

  close(): void {
    this.db.close();
  }
}
