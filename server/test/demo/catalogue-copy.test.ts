import { describe, expect, it } from 'vitest';
import { createCopyWriter, SUBJECTS, type CopyBrief } from '../../src/demo/catalogue/catalogue-copy.js';
import { TOPICS } from '../../src/demo/catalogue/catalogue.js';
import { seededRandom } from '../../../common/src/seeded-random.js';

const brief: CopyBrief = { subject: { name: 'sourdough', plural: false }, format: 'explainer', titleDraw: 0.5 };

describe('createCopyWriter', () => {
  it('writes the same copy from the same stream', () => {
    const a = createCopyWriter(seededRandom(9));
    const b = createCopyWriter(seededRandom(9));
    for (let i = 0; i < 50; i += 1) expect(b(brief)).toEqual(a(brief));
  });

  it('keeps titles unique past the templates it has, with part numbers as a last resort', () => {
    const write = createCopyWriter(seededRandom(1));
    // One subject has a few hundred titles; 600 articles on it exhaust them.
    const titles = Array.from({ length: 600 }, () => write(brief).title);
    expect(new Set(titles).size).toBe(600);
    const parts = titles.filter((t) => / \(part \d+\)$/.test(t));
    expect(parts.length).toBeGreaterThan(0);
    for (const part of parts) expect(titles).toContain(part.replace(/ \(part \d+\)$/, ''));
  });

  it('writes a short closer-look summary for a format it has no words for', () => {
    const copy = createCopyWriter(seededRandom(2))({ ...brief, format: 'podcast' });
    expect(copy.summary).toBe('A closer look at sourdough.');
  });
});

describe('SUBJECTS', () => {
  it('gives every topic twelve distinct lower-case subjects, unique across topics', () => {
    const all = TOPICS.flatMap((topic) => SUBJECTS[topic].map((s) => s.name));
    for (const topic of TOPICS) expect(SUBJECTS[topic]).toHaveLength(12);
    expect(new Set(all).size).toBe(all.length);
    // Lower case unless a proper noun or an acronym leads, so they read mid-sentence.
    for (const name of all) expect(name).toMatch(/^([a-z]|[A-Z]{2})/);
  });
});
