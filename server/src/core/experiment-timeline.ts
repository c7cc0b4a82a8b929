/**
 * The experiment over time: at evenly spaced moments between the first and the last
 * exposure, the users enrolled by then per variant (sample ratio at a glance) and each
 * treatment's difference in CTR from the control with its confidence sequence, computed on
 * the users enrolled by that moment (each with the activity recorded so far). A confidence
 * sequence holds at every moment at once, so the whole band may be read, not only its end.
 * Pure: the rows come in, the points go out.
 */
import type { TimelinePoint } from '../../../common/src/experiment-results.js';
import { compareSequential, MIN_USERS_PER_ARM } from './sequential-statistics.js';
import { ratioEstimateFromMoments, type RatioMoments } from './statistics.js';

export type { TimelinePoint };

/** Moments on the timeline: enough for a smooth line, few enough for every refresh. */
export const TIMELINE_POINTS = 24;

/** A user as the timeline needs one: the variant, first exposure, clicks and impressions. */
export interface TimelineUser {
  readonly variant: string;
  readonly firstExposureMs?: number;
  readonly clicks: number;
  readonly impressions: number;
}

function emptyMoments(): { k: number; sumC: number; sumN: number; sumC2: number; sumN2: number; sumCN: number } {
  return { k: 0, sumC: 0, sumN: 0, sumC2: 0, sumN2: 0, sumCN: 0 };
}

/**
 * The timeline of an experiment's users; empty when no user has a first exposure. `rhoSquared`
 * and `csAlpha` are the ones of the results' sequences, so the last point equals them.
 */
export function experimentTimeline(
  users: readonly TimelineUser[],
  variants: readonly string[],
  rhoSquared: number,
  csAlpha: number,
  points = TIMELINE_POINTS,
): TimelinePoint[] {
  const dated = users.filter((u) => u.firstExposureMs !== undefined && variants.includes(u.variant)).sort((a, b) => a.firstExposureMs! - b.firstExposureMs!);
  if (dated.length === 0) return [];
  const first = dated[0]!.firstExposureMs!;
  const last = dated[dated.length - 1]!.firstExposureMs!;
  const moments = new Map(variants.map((v) => [v, emptyMoments()]));
  const control = variants[0]!;
  const timeline: TimelinePoint[] = [];
  let next = 0;
  const steps = last > first ? points : 1;
  for (let step = 1; step <= steps; step += 1) {
    const atMs = step === steps ? last : first + ((last - first) * step) / steps;
    for (; next < dated.length && dated[next]!.firstExposureMs! <= atMs; next += 1) {
      const u = dated[next]!;
      const m = moments.get(u.variant)!;
      m.k += 1;
      m.sumC += u.clicks;
      m.sumN += u.impressions;
      m.sumC2 += u.clicks * u.clicks;
      m.sumN2 += u.impressions * u.impressions;
      m.sumCN += u.clicks * u.impressions;
    }
    const estimates = new Map(variants.map((v) => [v, ratioEstimateFromMoments(moments.get(v)! as RatioMoments)]));
    const c = estimates.get(control)!;
    const diff: TimelinePoint['diff'] = {};
    for (const v of variants.slice(1)) {
      const t = estimates.get(v)!;
      if (Math.min(t.k, c.k) < MIN_USERS_PER_ARM || !Number.isFinite(t.variance) || !Number.isFinite(c.variance)) {
        diff[v] = null;
        continue;
      }
      const comparison = compareSequential(t, c, rhoSquared, csAlpha);
      diff[v] = { diff: t.ratio - c.ratio, diffCs: [comparison.diffCs[0], comparison.diffCs[1]] };
    }
    timeline.push({ atMs: Math.round(atMs), users: Object.fromEntries(variants.map((v) => [v, moments.get(v)!.k])), diff });
  }
  return timeline;
}
