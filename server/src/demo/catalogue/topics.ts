/** The demo catalogue's topics: the catalogue and its copy writer both read them, so they live apart from both. */
export const TOPICS = ['science', 'technology', 'travel', 'food', 'culture', 'sport', 'business', 'health'] as const;
export type Topic = (typeof TOPICS)[number];
