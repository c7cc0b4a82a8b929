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
import { addRatioSums, addRatioUnit, emptyRatioSums, ratioEstimateFromMoments } from './statistics.js';

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
  const dated = users.filter((u) => u.firstExposureMs !== undefined && variants.includes(u.variant));
  if (dated.length === 0) return [];
  let first = Infinity;
  let last = -Infinity;
  for (const u of dated) {
    first = Math.min(first, u.firstExposureMs!);
    last = Math.max(last, u.firstExposureMs!);
  }
  const steps = last > first ? points : 1;
  const atMsOf = (step: number) => (step === steps ? last : first + ((last - first) * step) / steps);
  // Each user joins at the first moment at or after their exposure: counted per moment, then summed
  // moment by moment (no sort of the users; the sums are of whole numbers, so the same in any order).
  const joining = Array.from({ length: steps + 1 }, () => new Map(variants.map((v) => [v, emptyRatioSums()])));
  for (const u of dated) {
    const t = u.firstExposureMs!;
    let step = steps === 1 ? 1 : Math.min(steps, Math.max(1, Math.ceil(((t - first) * steps) / (last - first))));
    while (step > 1 && t <= atMsOf(step - 1)) step -= 1;
    while (t > atMsOf(step)) step += 1;
    addRatioUnit(joining[step]!.get(u.variant)!, u.clicks, u.impressions);
  }
  const moments = new Map(variants.map((v) => [v, emptyRatioSums()]));
  const control = variants[0]!;
  const timeline: TimelinePoint[] = [];
  for (let step = 1; step <= steps; step += 1) {
    const atMs = atMsOf(step);
    for (const [v, m] of moments) addRatioSums(m, joining[step]!.get(v)!);
    const estimates = new Map(variants.map((v) => [v, ratioEstimateFromMoments(moments.get(v)!)]));
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
