/**
 * A reproducible audience for the catalogue: users with topic preferences and a click
 * history, generated from a seed. Pure.
 */
import { TOPICS, type Article } from './catalogue.js';
import { seededRandom } from '../../../../common/src/seeded-random.js';

export interface GeneratedUser {
  readonly userId: string;
  /** Topic → preference in [0, 1], summing to 1. */
  readonly preferences: Readonly<Record<string, number>>;
  /** Content ids clicked, oldest first. */
  readonly history: readonly string[];
}

const MIN_HISTORY = 3;
const MAX_HISTORY = 40;
/** Each user leans towards this many favourite topics. */
const FAVOURITE_TOPICS = 2;

/** User id for index i (1-based): `u00001`. */
export function generatedUserId(i: number): string {
  return `u${String(i).padStart(5, '0')}`;
}

/**
 * Generates `count` users. Preferences concentrate on two favourite topics; clicks pick a
 * topic by preference, then an article of that topic weighted by popularity, so histories
 * share popular items — the co-occurrence the collaborative algorithm learns from.
 */
export function generateAudience(count: number, articles: readonly Article[], seed: number): GeneratedUser[] {
  const random = seededRandom(seed);
  const byTopic = new Map<string, Article[]>();
  for (const article of articles) {
    const list = byTopic.get(article.topic) ?? [];
    list.push(article);
    byTopic.set(article.topic, list);
  }
  const cumulative = new Map<string, { articles: Article[]; weights: number[]; total: number }>();
  for (const [topic, list] of byTopic) {
    let total = 0;
    const weights = list.map((a) => (total += Math.sqrt(a.popularity)));
    cumulative.set(topic, { articles: list, weights, total });
  }
  const users: GeneratedUser[] = [];
  for (let i = 1; i <= count; i += 1) {
    const raw: Record<string, number> = {};
    for (const topic of TOPICS) raw[topic] = 0.05 + random() * 0.1;
    for (let f = 0; f < FAVOURITE_TOPICS; f += 1) raw[TOPICS[Math.floor(random() * TOPICS.length)]!]! += 1 + random();
    const sum = Object.values(raw).reduce((a, b) => a + b, 0);
    const preferences = Object.fromEntries(Object.entries(raw).map(([t, v]) => [t, v / sum]));
    const length = MIN_HISTORY + Math.floor(random() ** 2 * (MAX_HISTORY - MIN_HISTORY));
    const history: string[] = [];
    const seen = new Set<string>();
    for (let attempt = 0; history.length < length && attempt < length * 4; attempt += 1) {
      const topic = pickWeighted(random, preferences);
      const pool = cumulative.get(topic);
      if (pool === undefined) continue;
      const target = random() * pool.total;
      let index = pool.weights.findIndex((w) => w >= target);
      if (index < 0) index = pool.articles.length - 1;
      const contentId = pool.articles[index]!.contentId;
      if (seen.has(contentId)) continue;
      seen.add(contentId);
      history.push(contentId);
    }
    users.push({ userId: generatedUserId(i), preferences, history });
  }
  return users;
}

function pickWeighted(random: () => number, weights: Readonly<Record<string, number>>): string {
  let target = random();
  let last = '';
  for (const [key, weight] of Object.entries(weights)) {
    last = key;
    target -= weight;
    if (target <= 0) return key;
  }
  return last;
}

/**
 * Item-item co-occurrence: for every item, the items most often clicked by the same users,
 * with counts, strongest first, at most `perItem` of them.
 */
export function coOccurrence(histories: readonly (readonly string[])[], perItem: number): Map<string, [string, number][]> {
  const counts = new Map<string, Map<string, number>>();
  for (const history of histories) {
    for (const a of history) {
      let row = counts.get(a);
      if (row === undefined) counts.set(a, (row = new Map()));
      for (const b of history) if (a !== b) row.set(b, (row.get(b) ?? 0) + 1);
    }
  }
  const neighbours = new Map<string, [string, number][]>();
  for (const [item, row] of counts) {
    const sorted = [...row.entries()].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1)).slice(0, perItem);
    neighbours.set(item, sorted);
  }
  return neighbours;
}
