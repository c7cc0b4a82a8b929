import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS } from '../../src/demo/catalogue/catalogue.js';
import type { RunningDemo as RunningServer } from '../../src/demo/index.js';
import { startTestServer } from '../helpers.js';

let server: RunningServer & { dataDir: string };
/** The server's own content database, read beside it to check the API against the rows. */
let content: Database.Database;

beforeAll(async () => {
  server = await startTestServer();
  content = new Database(join(server.dataDir, 'content.db'), { readonly: true });
});

afterAll(async () => {
  content.close();
  await server.close();
});

async function get(path: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.url}${path}`);
  return { status: response.status, body: await response.json() };
}

describe('GET /api/topics', () => {
  it('lists every topic once, by name, with its number of articles', async () => {
    const { status, body } = await get('/api/topics');
    expect(status).toBe(200);
    expect(body.topics.map((t: any) => t.topic)).toEqual([...TOPICS].sort());
    const counts = content.prepare('SELECT topic, count(*) AS count FROM articles GROUP BY topic').all() as { topic: string; count: number }[];
    for (const { topic, count } of counts) expect(body.topics).toContainEqual({ topic, count });
    const total = (content.prepare('SELECT count(*) AS n FROM articles').get() as { n: number }).n;
    expect(body.topics.reduce((sum: number, t: any) => sum + t.count, 0)).toBe(total);
  });
});

describe('GET /api/content?topic=', () => {
  it('lists the topic’s newest 20 articles by default, newest first, with links to their pages', async () => {
    const { status, body } = await get('/api/content?topic=travel');
    expect(status).toBe(200);
    expect(body.topic).toBe('travel');
    expect(body.articles).toHaveLength(20);
    for (const article of body.articles) {
      expect(article.topic).toBe('travel');
      expect(article.url).toBe(`/articles/${article.contentId}`);
      expect(Object.keys(article).sort()).toEqual(['contentId', 'publishedAt', 'summary', 'tags', 'title', 'topic', 'url']);
    }
    const dates = body.articles.map((a: any) => a.publishedAt);
    expect(dates).toEqual([...dates].sort().reverse());
    const newest = content.prepare("SELECT max(published_at) AS d FROM articles WHERE topic = 'travel'").get() as { d: string };
    expect(dates[0]).toBe(newest.d);
    // Nothing newer was left out: the 20th is at least as new as every unlisted article of the topic.
    const listed = new Set(body.articles.map((a: any) => a.contentId));
    const unlisted = (content.prepare("SELECT content_id, published_at FROM articles WHERE topic = 'travel'").all() as { content_id: string; published_at: string }[]).filter(
      (row) => !listed.has(row.content_id),
    );
    for (const row of unlisted) expect(row.published_at <= dates[19]).toBe(true);
  });

  it.each([
    ['1', 1],
    ['7', 7],
    ['50', 50],
  ])('honours limit=%s', async (limit, expected) => {
    const { status, body } = await get(`/api/content?topic=food&limit=${limit}`);
    expect(status).toBe(200);
    expect(body.articles).toHaveLength(expected);
  });

  it('gives the same first articles whatever the limit', async () => {
    const few = await get('/api/content?topic=science&limit=5');
    const more = await get('/api/content?topic=science&limit=30');
    expect(more.body.articles.slice(0, 5)).toEqual(few.body.articles);
  });

  it.each([
    ['0', 'limit is invalid'],
    ['51', 'limit is invalid'],
    ['-3', 'limit is invalid'],
    ['2.5', 'limit is invalid'],
    ['ten', 'limit is invalid'],
    ['', 'limit is invalid'],
  ])('refuses limit=%s with a 400 naming it', async (limit, error) => {
    const { status, body } = await get(`/api/content?topic=food&limit=${encodeURIComponent(limit)}`);
    expect(status).toBe(400);
    expect(body.error).toContain(error);
  });

  it.each([
    ['', 'topic is required'],
    ['topic=', 'topic is invalid'],
    [`topic=${'a'.repeat(65)}`, 'topic is invalid'],
    ['topic=%3Cscript%3E', 'topic is invalid'],
    ['topic=food&topic=travel', 'topic is invalid'],
  ])('refuses the query "%s" with a 400 naming the topic parameter', async (query, error) => {
    const { status, body } = await get(`/api/content?${query}`);
    expect(status).toBe(400);
    expect(body.error).toContain(error);
  });

  it('answers 404 naming an unknown topic', async () => {
    const { status, body } = await get('/api/content?topic=astrology');
    expect(status).toBe(404);
    expect(body.error).toBe('no topic named astrology');
  });

  it('still serves one article by id beside the listing', async () => {
    const { body: listing } = await get('/api/content?topic=sport&limit=1');
    const { status, body } = await get(`/api/content/${listing.articles[0].contentId}`);
    expect(status).toBe(200);
    expect(body.topic).toBe('sport');
  });
});
