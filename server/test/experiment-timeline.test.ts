import { describe, expect, it } from 'vitest';
import { experimentTimeline, TIMELINE_POINTS, type TimelineUser } from '../src/core/experiment-timeline.js';
import { seededRandom } from '../../common/src/seeded-random.js';
import { compareSequential, sequentialRhoSquared } from '../src/core/sequential-statistics.js';
import { ratioEstimate } from '../src/core/statistics.js';

const VARIANTS = ['control', 'collaborative', 'hybrid'];
const RHO2 = sequentialRhoSquared(0.05, 10_000);
const CS_ALPHA = 0.025;
const T0 = Date.UTC(2026, 11, 1);

function users(count: number, seed: number): TimelineUser[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const impressions = 1 + Math.floor(random() * 10);
    let clicks = 0;
    for (let j = 0; j < impressions; j += 1) if (random() < 0.05) clicks += 1;
    return { variant: VARIANTS[i % 3]!, firstExposureMs: T0 + Math.floor(random() * 7 * 86_400_000), clicks, impressions };
  });
}

describe('the experiment timeline', () => {
  it('ends where the results end: all users, and the same confidence sequence', () => {
    const all = users(1500, 7);
    const timeline = experimentTimeline(all, VARIANTS, RHO2, CS_ALPHA);
    expect(timeline).toHaveLength(TIMELINE_POINTS);
    const last = timeline[timeline.length - 1]!;
    expect(last.users).toEqual({ control: 500, collaborative: 500, hybrid: 500 });
    const estimate = (v: string) => {
      const rows = all.filter((u) => u.variant === v);
      return ratioEstimate(rows.map((u) => u.clicks), rows.map((u) => u.impressions));
    };
    const expected = compareSequential(estimate('hybrid'), estimate('control'), RHO2, CS_ALPHA);
    expect(last.diff['hybrid']!.diffCs[0]).toBeCloseTo(expected.diffCs[0], 12);
    expect(last.diff['hybrid']!.diffCs[1]).toBeCloseTo(expected.diffCs[1], 12);
    expect(last.atMs).toBe(Math.max(...all.map((u) => u.firstExposureMs!)));
  });

  it('grows: users per variant never fall, and times rise', () => {
    const timeline = experimentTimeline(users(900, 3), VARIANTS, RHO2, CS_ALPHA);
    for (let i = 1; i < timeline.length; i += 1) {
      expect(timeline[i]!.atMs).toBeGreaterThan(timeline[i - 1]!.atMs);
      for (const v of VARIANTS) expect(timeline[i]!.users[v]).toBeGreaterThanOrEqual(timeline[i - 1]!.users[v]!);
    }
  });

  it('compares nothing while an arm has fewer than 100 users, and is empty without dated users', () => {
    const timeline = experimentTimeline(users(600, 5), VARIANTS, RHO2, CS_ALPHA);
    const early = timeline.find((p) => Math.min(...VARIANTS.map((v) => p.users[v]!)) < 100)!;
    expect(early.diff).toEqual({ collaborative: null, hybrid: null });
    expect(experimentTimeline([{ variant: 'control', clicks: 1, impressions: 2 }], VARIANTS, RHO2, CS_ALPHA)).toEqual([]);
  });

  it('counts at each moment exactly the users first exposed by then, those on the moment itself included', () => {
    const hour = 3_600_000;
    // Exposures on every moment (first + k hours over 24 hours), a millisecond before and after.
    const dated: TimelineUser[] = [];
    for (let k = 0; k <= TIMELINE_POINTS; k += 1) {
      for (const offset of k === 0 ? [0, 1] : k === TIMELINE_POINTS ? [-1, 0] : [-1, 0, 1]) {
        for (const [i, variant] of VARIANTS.entries()) dated.push({ variant, firstExposureMs: T0 + k * hour + offset, clicks: (k + i) % 3, impressions: 5 + i });
      }
    }
    const everyone = [...dated, ...users(600, 11).map((u) => ({ ...u, firstExposureMs: T0 + (u.firstExposureMs! % (TIMELINE_POINTS * hour)) }))];
    const timeline = experimentTimeline(everyone, VARIANTS, RHO2, CS_ALPHA);
    expect(timeline).toHaveLength(TIMELINE_POINTS);
    for (const [k, point] of timeline.entries()) {
      expect(point.atMs).toBe(T0 + (k + 1) * hour);
      const enrolled = everyone.filter((u) => u.firstExposureMs! <= point.atMs);
      for (const v of VARIANTS) expect(point.users[v], `moment ${k + 1}, ${v}`).toBe(enrolled.filter((u) => u.variant === v).length);
      const estimate = (v: string) => {
        const rows = enrolled.filter((u) => u.variant === v);
        return ratioEstimate(rows.map((u) => u.clicks), rows.map((u) => u.impressions));
      };
      if (point.diff['hybrid'] === null) continue;
      const expected = compareSequential(estimate('hybrid'), estimate('control'), RHO2, CS_ALPHA);
      expect(point.diff['hybrid']!.diffCs[0]).toBeCloseTo(expected.diffCs[0], 12);
    }
  });
});
