/** A reproducible content catalogue generated from a seed: the demo site's articles. */

export interface Article {
  readonly contentId: string;
  readonly title: string;
  readonly topic: string;
  readonly tags: readonly string[];
  /** ISO 8601 date-time. */
  readonly publishedAt: string;
  /** Relative popularity, higher is more read. */
  readonly popularity: number;
  readonly summary: string;
  readonly body: readonly string[];
}

export const TOPICS = ['science', 'technology', 'travel', 'food', 'culture', 'sport', 'business', 'health'] as const;

const SUBJECTS: Record<(typeof TOPICS)[number], readonly string[]> = {
  science: ['black holes', 'coral reefs', 'quantum sensors', 'ancient DNA', 'the deep ocean', 'solar storms'],
  technology: ['edge computing', 'open-source chips', 'battery chemistry', 'observability', 'compilers', 'mesh networks'],
  travel: ['night trains', 'mountain huts', 'island ferries', 'desert roads', 'old harbours', 'slow cycling'],
  food: ['sourdough', 'street noodles', 'fermentation', 'olive harvests', 'spice markets', 'coffee roasting'],
  culture: ['silent films', 'street murals', 'jazz archives', 'small museums', 'folk songs', 'translated novels'],
  sport: ['trail running', 'rowing crews', 'chess clocks', 'youth football', 'climbing walls', 'marathon pacing'],
  business: ['four-day weeks', 'tiny factories', 'local currencies', 'supply chains', 'cooperatives', 'repair shops'],
  health: ['sleep science', 'gut bacteria', 'walking meetings', 'cold water', 'posture myths', 'breathing drills'],
};
const OPENERS = ['Why', 'How', 'The quiet rise of', 'What we get wrong about', 'Inside', 'A field guide to', 'The economics of', 'Ten years of'];
const TAGS = ['explainer', 'interview', 'data', 'long-read', 'guide', 'opinion', 'photo-essay', 'analysis', 'news', 'review'];

/** Fixed "today" of the generated catalogue, so that a seed always gives the same dates. */
export const CATALOGUE_EPOCH = Date.parse('2026-11-01T00:00:00Z');
const DAY_MS = 86_400_000;
const CATALOGUE_SPAN_DAYS = 365;

/** mulberry32: a tiny, fast, seedable PRNG; quality is ample for synthetic content. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

/** Generates `count` articles; the same seed always yields the same catalogue. */
export function generateCatalogue(count: number, seed: number): Article[] {
  const random = seededRandom(seed);
  const articles: Article[] = [];
  for (let i = 0; i < count; i += 1) {
    const topic = pick(random, TOPICS);
    const subject = pick(random, SUBJECTS[topic]);
    const title = `${pick(random, OPENERS)} ${subject}`;
    const tags = [...new Set([pick(random, TAGS), pick(random, TAGS)])];
    const ageDays = Math.floor(random() * CATALOGUE_SPAN_DAYS);
    // Pareto-like popularity: a few articles are read far more than most.
    const popularity = Math.round(10 / Math.pow(1 - random() * 0.999, 0.8));
    const summary = `A ${tags[0]} on ${subject}, from our ${topic} desk.`;
    articles.push({
      contentId: `a${String(i + 1).padStart(5, '0')}`,
      title: `${title.charAt(0).toUpperCase()}${title.slice(1)}`,
      topic,
      tags,
      publishedAt: new Date(CATALOGUE_EPOCH - ageDays * DAY_MS).toISOString(),
      popularity,
      summary,
      body: [
        summary,
        `Our reporters spent weeks with the people who know ${subject} best.`,
        `What they found changes how we think about ${topic}.`,
      ],
    });
  }
  return articles;
}
