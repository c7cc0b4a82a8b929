/**
 * What a reader may conclude now about one treatment against the control, in words: the
 * sentence the dashboard and `npm run report` print beside the figures. Pure.
 */

import type { Verdict, VerdictKind } from '../../../common/src/experiment-results.js';

export type { Verdict, VerdictKind };
export { verdictLine } from '../../../common/src/experiment-results.js';

/** The lift (relative to the control's CTR) the "how many more users" estimate is sized for. */
export const TARGET_RELATIVE_LIFT = 0.1;

/** What the verdict is made from: the always-valid results of one comparison. */
export interface VerdictInput {
  readonly treatment: string;
  readonly control: string;
  /** Users still missing in the smaller arm before any comparison (0 when there are enough). */
  readonly usersMissing: number;
  readonly minUsersPerArm: number;
  readonly significant: boolean;
  readonly diff: number | null;
  readonly relativeLiftCs: readonly [number | null, number | null];
  /** More users per arm until a +10% lift could show (`Infinity`/NaN when unknown). */
  readonly moreUsersPerArm: number;
  readonly srmFlagged: boolean;
}

function roundUsers(n: number): string {
  // Two significant figures: the estimate rests on today's variances, so more would be false precision.
  const digits = Math.max(0, Math.floor(Math.log10(n)) - 1);
  const rounded = Math.ceil(n / 10 ** digits) * 10 ** digits;
  return rounded.toLocaleString('en-US');
}

/** The verdict for one treatment. */
export function verdict(input: VerdictInput): Verdict {
  const target = `${Math.round(TARGET_RELATIVE_LIFT * 100)} %`;
  if (input.srmFlagged) {
    return { kind: 'srm', text: `do not decide: users are not split as configured (sample-ratio mismatch); find the cause first` };
  }
  if (input.usersMissing > 0) {
    return { kind: 'collecting', text: `collecting: ${input.usersMissing.toLocaleString('en-US')} more users in the smaller arm before comparing (${input.minUsersPerArm} per arm)` };
  }
  if (input.significant && input.diff !== null) {
    return input.diff > 0
      ? { kind: 'better', text: `${input.treatment} beats ${input.control}: decide` }
      : { kind: 'worse', text: `${input.treatment} is worse than ${input.control}: decide` };
  }
  const [low, high] = input.relativeLiftCs;
  if (low !== null && high !== null && low > -TARGET_RELATIVE_LIFT && high < TARGET_RELATIVE_LIFT) {
    return { kind: 'no-difference', text: `no difference of ${target} or more either way: decide (any difference is smaller)` };
  }
  if (Number.isFinite(input.moreUsersPerArm) && input.moreUsersPerArm > 0) {
    return { kind: 'not-yet', text: `no difference yet: about ${roundUsers(input.moreUsersPerArm)} more users per arm to detect +${target}` };
  }
  return { kind: 'not-yet', text: 'no difference yet: keep collecting' };
}
