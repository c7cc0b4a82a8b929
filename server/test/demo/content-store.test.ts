import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CATALOGUE_VERSION, type Article } from '../../src/demo/catalogue/catalogue.js';
import { ContentStore, type ContentStoreConfig } from '../../src/demo/catalogue/content-store.js';
import { tempDir } from '../helpers.js';

/** Small, so that each generation takes milliseconds. */
const ARTICLES = 200;
const USERS = 50;
const OLD_TITLE = 'Why compilers';

let store: ContentStore | undefined;
afterEach(() => {
  store?.close();
  store = undefined;
});

function freshPath(): string {
  return join(tempDir('content'), 'content.db');
}

function openStore(path: string, overrides: Partial<ContentStoreConfig> = {}): ContentStore {
  store = new ContentStore({ path, articleCount: ARTICLES, userCount: USERS, seed: 11, ...overrides });
  return store;
}

/** Opens the store, reads the first article and closes it again. */
function firstArticle(path: string): Article {
  const article = openStore(path).getArticle('a00001')!;
  store!.close();
  store = undefined;
  return article;
}

/** Runs SQL on the file as another program would, with the store closed. */
function onFile<T>(path: string, run: (db: Database.Database) => T): T {
  const db = new Database(path);
  try {
    return run(db);
  } finally {
    db.close();
  }
}

const rows = (path: string, table: string): number => onFile(path, (db) => db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number);

describe('ContentStore generation', () => {
  it('generates on first start and not again on the next', () => {
    const path = freshPath();
    expect(firstArticle(path).title).not.toBe(OLD_TITLE);
    onFile(path, (db) => db.prepare(`UPDATE articles SET title = ? WHERE content_id = 'a00001'`).run(OLD_TITLE));
    expect(openStore(path).getArticle('a00001')!.title).toBe(OLD_TITLE);
  });

  it.each([
    ['a store of schema version 3, from before the stamp', `DROP TABLE generation; PRAGMA user_version = 3;`],
    ['a store of another generator version', `UPDATE generation SET stamp = json_set(stamp, '$.version', ${CATALOGUE_VERSION - 1});`],
  ])('generates again over %s, replacing every generated table', (_, staleness) => {
    const path = freshPath();
    const expected = firstArticle(path);
    const clicks = rows(path, 'clicks');
    onFile(path, (db) => db.exec(`UPDATE articles SET title = '${OLD_TITLE}'; INSERT INTO users VALUES ('stale-user', '{}'); ${staleness}`));

    expect(openStore(path).getArticle('a00001')).toEqual(expected);
    expect(store!.user('stale-user')).toBeUndefined();
    expect(rows(path, 'articles')).toBe(ARTICLES);
    expect(rows(path, 'users')).toBe(USERS);
    expect(rows(path, 'clicks')).toBe(clicks);
    expect(rows(path, 'generation')).toBe(1);
  });

  it('generates again when the seed or the size changes', () => {
    const path = freshPath();
    const before = firstArticle(path);
    openStore(path, { seed: 12, articleCount: 150 });
    expect(store!.getArticle('a00001')).not.toEqual(before);
    expect(store!.getArticle('a00151')).toBeUndefined();
    expect(rows(path, 'articles')).toBe(150);
  });
});
