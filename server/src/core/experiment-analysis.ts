/**
 * Turns the rows the analysis store returns into an experiment's results: CTR with the
 * user as the unit, comparisons with the control (Holm-adjusted), sample-ratio and delivery
 * checks, and guardrails. Pure: the rows come in, the results go out.
 */
import type { ExperimentResults, PopulationFigures, SequentialResult, VariantResult } from '../../../common/src/experiment-results.js';
import { verdict, TARGET_RELATIVE_LIFT } from './comparison-verdict.js';
import { compareGuardrail, compareQuantileEstimates, percentileWithError, type ArmEstimate, type UserRatio } from './guardrails.js';
import { DEFAULT_PLANNED_USERS_PER_ARM, type ExperimentDefinition } from './experiment-config.js';
import { compareSequential, MIN_USERS_PER_ARM, sequentialRhoSquared, usersPerArmToResolve, type SequentialComparison } from './sequential-statistics.js';
import { experimentTimeline } from './experiment-timeline.js';
import { srmSequentialPValue } from './srm-sequential.js';
export type { ExperimentResults, PopulationFigures, SequentialResult, VariantResult };

import {
  chiSquareGoodnessOfFit,
  compareRatios,
  histogramPercentileLogNormal,
  holm,
  percentile,
  ratioEstimate,
  twoProportionP,
  type Comparison,
  type RatioEstimate,
} from './statistics.js';

/** SRM is flagged when its always-valid p-value falls below this (the usual, deliberately strict, threshold). */
export const SRM_ALPHA = 0.001;

/** A delivery difference this clear (always-valid p below it), and negative, gets a warning that CTR may be understated. */
export const DELIVERY_WARNING_ALPHA = 0.01;

/** Family-wise error rate of the CTR comparisons (Holm over the treatments). */
export const ALPHA = 0.05;

export interface AnalysisInput {
  readonly experiment: ExperimentDefinition;
  readonly window: { readonly from: string | null; readonly to: string | null };
  readonly cohort: string | null;
  readonly users: readonly {
    variant: string;
    user: string;
    requests: number;
    impressions: number;
    errors: number;
    clicks: number;
    /** Requests for which any browser telemetry arrived (the delivery guardrail; without it, no delivery test). */
    reported?: number;
    /** Σ request durations in ms (the latency-mean guardrail; without it, no latency-mean test). */
    durationMsSum?: number;
    /** When the user was first served in the experiment, ms since the epoch (the timeline; without it, none). */
    firstExposureMs?: number;
    /** Cache hits and lookups of the user's requests (the user-level cache guardrail; without them, lookups only). */
    cacheHits?: number;
    cacheLookups?: number;
    /** This user's request durations in ms (the p50/p95 guardrails; without them, point differences only). */
    durationsMs?: ArrayLike<number>;
  }[];
  readonly rejected: {
    readonly unknownRequest: Readonly<Record<string, number>>;
    readonly variantMismatch: Readonly<Record<string, number>>;
    /** Clicks on a served request that broke an attribution rule (a content id it did not serve, outside the click window), per variant. */
    readonly invalid?: Readonly<Record<string, number>>;
  };
  /** Visitors outside the randomised population: in no running experiment (holdout), or forced for QA. */
  readonly populations?: Readonly<Partial<Record<'holdout' | 'forced', PopulationFigures>>>;
  /** Request durations per variant, sorted ascending. */
  readonly durations: ReadonlyMap<string, ArrayLike<number>>;
  /**
   * The latency figures per variant, when the source computes them where the durations are (the
   * ClickHouse SQL) instead of listing every duration; without it, they are computed here from
   * `durations` and the users' `durationsMs` (`variantLatency`).
   */
  readonly latency?: ReadonlyMap<string, VariantLatency>;
  readonly delivery: ReadonlyMap<string, { served: number; reported: number }>;
  /** Downstream span durations: per variant and span name, log buckets (see `bucketsPerE`). */
  readonly downstream: readonly { variant: string; name: string; count: number; buckets: readonly (readonly [number, number])[] }[];
  readonly bucketsPerE: number;
  readonly cache: ReadonlyMap<string, { hits: number; misses: number }>;
  /** Metric totals per variant, from stored metrics (temporality handled). */
  readonly metrics: ReadonlyMap<string, { impressions: number; clickThrough: number }>;
  /** `recommendation.latency` histogram per variant: bounds and summed bucket counts. */
  readonly latencyHistograms: ReadonlyMap<string, { bounds: readonly number[]; counts: readonly number[] }>;
}

/** JSON has no NaN: undefined statistics become null. */
function finite(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

function share(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

function bucketPercentile(buckets: readonly (readonly [number, number])[], count: number, q: number, perE: number): number | null {
  if (count === 0) return null;
  const target = q * count;
  let cumulative = 0;
  for (const [bucket, n] of buckets) {
    cumulative += n;
    if (cumulative >= target) return Math.exp(bucket / perE);
  }
  return Math.exp(buckets[buckets.length - 1]![0] / perE);
}

/** Bucket bounds of the latency distribution on the dashboard, in ms. */
export const DISTRIBUTION_BOUNDS_MS = [1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 250, 500, 1000];

/** What a variant's latency figures need of its request durations (NaN percentiles without requests). */
export interface VariantLatency {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly distribution: readonly { readonly upToMs: number | null; readonly count: number }[];
  /** p50 and p95 with their standard errors over users (the percentile guardrails); null without each user's durations. */
  readonly quantiles: { readonly p50: ArmEstimate; readonly p95: ArmEstimate } | null;
}

/** A variant's latency figures from its durations sorted ascending and, when known, each user's durations. */
export function variantLatency(sorted: ArrayLike<number>, perUser: readonly ArrayLike<number>[] | null): VariantLatency {
  return {
    p50: percentile(sorted, 0.5),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    distribution: distribution(sorted),
    quantiles: perUser === null ? null : { p50: percentileWithError({ sorted, perUser }, 0.5), p95: percentileWithError({ sorted, perUser }, 0.95) },
  };
}

/** The durations (sorted ascending) counted per bucket of `DISTRIBUTION_BOUNDS_MS`, and above the last. */
function distribution(sorted: ArrayLike<number>): { upToMs: number | null; count: number }[] {
  const counts = DISTRIBUTION_BOUNDS_MS.map((upToMs) => ({ upToMs: upToMs as number | null, count: 0 }));
  counts.push({ upToMs: null, count: 0 });
  let bucket = 0;
  for (let i = 0; i < sorted.length; i += 1) {
    const value = sorted[i]!;
    while (bucket < DISTRIBUTION_BOUNDS_MS.length && value > DISTRIBUTION_BOUNDS_MS[bucket]!) bucket += 1;
    counts[bucket]!.count += 1;
  }
  return counts;
}

interface VsControlInput {
  variant: string;
  control: string;
  comparison: Comparison;
  pValueHolm: number;
  sequential: { usersMissing: number; result: SequentialComparison | null };
  sequentialHolm: number;
  treatment: RatioEstimate;
  controlEstimate: RatioEstimate;
  rhoSquared: number;
  csAlpha: number;
  nStar: number;
  plannedUsersPerArm: number;
  srmFlagged: boolean;
}

function vsControl(input: VsControlInput): NonNullable<VariantResult['vsControl']> {
  const { comparison, sequential, treatment, controlEstimate } = input;
  const result = sequential.result;
  const pValueHolm = result === null ? null : finite(input.sequentialHolm);
  const significant = pValueHolm !== null && pValueHolm < ALPHA;
  const relativeLiftCs: [number | null, number | null] = result === null ? [null, null] : [finite(result.relativeLiftCs[0]), finite(result.relativeLiftCs[1])];
  // Per-user variances (Var(R)·k) stay roughly constant as users arrive: size the future from them.
  const perUserVarianceSum = treatment.variance * treatment.k + controlEstimate.variance * controlEstimate.k;
  const perArmNeeded = usersPerArmToResolve(TARGET_RELATIVE_LIFT * controlEstimate.ratio, perUserVarianceSum, input.rhoSquared, input.csAlpha);
  const more = perArmNeeded - Math.max(treatment.k, controlEstimate.k);
  const moreUsersPerArmForTargetLift = result !== null && Number.isFinite(more) && more > 0 ? more : null;
  return {
    diff: finite(comparison.diff),
    relativeLift: finite(comparison.relativeLift),
    significant,
    sequential: {
      pValue: result === null ? null : finite(result.pValue),
      pValueHolm,
      diffCs: result === null ? [null, null] : [finite(result.diffCs[0]), finite(result.diffCs[1])],
      relativeLiftCs,
      level: 1 - input.csAlpha,
      nStar: input.nStar,
      usersMissing: sequential.usersMissing,
      moreUsersPerArmForTargetLift,
    },
    verdict: verdict({
      treatment: input.variant,
      control: input.control,
      usersMissing: sequential.usersMissing,
      minUsersPerArm: MIN_USERS_PER_ARM,
      significant,
      diff: finite(comparison.diff),
      relativeLiftCs,
      moreUsersPerArm: moreUsersPerArmForTargetLift ?? Number.NaN,
      srmFlagged: input.srmFlagged,
    }),
    diffCi95: [finite(comparison.diffCi95[0]), finite(comparison.diffCi95[1])],
    pValue: finite(comparison.pValue),
    pValueHolm: finite(input.pValueHolm),
    fixedHorizon: { plannedUsersPerArm: input.plannedUsersPerArm, reached: Math.min(treatment.k, controlEstimate.k) >= input.plannedUsersPerArm },
  };
}

/** The results of one experiment. */
export function analyzeExperiment(input: AnalysisInput): ExperimentResults {
  const { experiment } = input;
  const control = experiment.variants[0]!;
  const weights = experiment.weights ?? experiment.variants.map(() => 1);
  const weightSum = weights.reduce((a, b) => a + b, 0);
  const expectedShares = Object.fromEntries(experiment.variants.map((v, i) => [v, weights[i]! / weightSum]));
  const byVariant = new Map<string, typeof input.users[number][]>(experiment.variants.map((v) => [v, []]));
  for (const row of input.users) byVariant.get(row.variant)?.push(row);
  const estimates = new Map<string, RatioEstimate>();
  for (const [variant, rows] of byVariant) estimates.set(variant, ratioEstimate(rows.map((r) => r.clicks), rows.map((r) => r.impressions)));

  const usersPerVariant = Object.fromEntries(experiment.variants.map((v) => [v, byVariant.get(v)!.length]));
  const srmTest = chiSquareGoodnessOfFit(experiment.variants.map((v) => usersPerVariant[v]!), experiment.variants.map((v) => expectedShares[v]!));
  const totalUsers = Object.values(usersPerVariant).reduce((a, b) => a + b, 0);
  const srmSequential = srmSequentialPValue(experiment.variants.map((v) => usersPerVariant[v]!), experiment.variants.map((v) => expectedShares[v]!));
  const srm = {
    sequentialPValue: totalUsers > 0 ? finite(srmSequential) : null,
    pValue: totalUsers > 0 ? finite(srmTest.pValue) : null,
    statistic: srmTest.statistic,
    flagged: totalUsers > 0 && srmSequential < SRM_ALPHA,
    users: usersPerVariant,
    expectedShares,
  };

  const treatments = experiment.variants.slice(1);
  const comparisons = new Map(treatments.map((v) => [v, compareRatios(estimates.get(v)!, estimates.get(control)!)]));
  const adjusted = holm(treatments.map((v) => comparisons.get(v)!.pValue));
  const plannedUsersPerArm = experiment.plannedUsers ?? DEFAULT_PLANNED_USERS_PER_ARM;
  const nStar = 2 * plannedUsersPerArm;
  const rhoSquared = sequentialRhoSquared(ALPHA, nStar);
  // The sequences at α/m, so that one excluding zero is significant after Holm as well.
  const csAlpha = ALPHA / Math.max(1, treatments.length);
  const controlEstimate = estimates.get(control)!;
  const sequential = new Map(
    treatments.map((v) => {
      const t = estimates.get(v)!;
      const usersMissing = Math.max(0, MIN_USERS_PER_ARM - Math.min(t.k, controlEstimate.k));
      return [v, { usersMissing, result: usersMissing > 0 ? null : compareSequential(t, controlEstimate, rhoSquared, csAlpha) }] as const;
    }),
  );
  const sequentialHolm = holm(treatments.map((v) => sequential.get(v)!.result?.pValue ?? Number.NaN));
  const latencyOf = (variant: string, rows: typeof input.users): VariantLatency =>
    input.latency?.get(variant) ??
    variantLatency(input.durations.get(variant) ?? [], rows.every((r) => r.durationsMs !== undefined) ? rows.map((r) => r.durationsMs!) : null);
  const controlCache = input.cache.get(control) ?? { hits: 0, misses: 0 };
  const userRatios = (rows: typeof input.users, numerator: (r: (typeof input.users)[number]) => number | undefined): UserRatio | null => {
    const numerators = rows.map(numerator);
    return numerators.some((n) => n === undefined) ? null : { numerators: numerators as number[], denominators: rows.map((r) => r.requests) };
  };
  const controlRows = byVariant.get(control)!;
  const controlLatency = latencyOf(control, controlRows);
  /** Hits over lookups per user, when every user's requests reported them and some lookup happened. */
  const cacheRatios = (rows: typeof input.users): UserRatio | null => {
    if (rows.some((r) => r.cacheHits === undefined || r.cacheLookups === undefined)) return null;
    const denominators = rows.map((r) => r.cacheLookups!);
    return denominators.some((d) => d > 0) ? { numerators: rows.map((r) => r.cacheHits!), denominators } : null;
  };
  const controlRatios = {
    cache: cacheRatios(controlRows),
    delivery: userRatios(controlRows, (r) => r.reported),
    errors: userRatios(controlRows, (r) => r.errors)!,
    latency: userRatios(controlRows, (r) => r.durationMsSum),
  };

  const guardrails = (variant: string, rows: typeof input.users, latency: VariantLatency): NonNullable<VariantResult['guardrails']> => {
    const deliveryRatios = userRatios(rows, (r) => r.reported);
    const cacheUserRatios = cacheRatios(rows);
    const latencyRatios = userRatios(rows, (r) => r.durationMsSum);
    const cache = input.cache.get(variant) ?? { hits: 0, misses: 0 };
    const cacheLookups = cache.hits + cache.misses;
    const controlLookups = controlCache.hits + controlCache.misses;
    return {
      delivery: deliveryRatios && controlRatios.delivery ? compareGuardrail(deliveryRatios, controlRatios.delivery, rhoSquared) : null,
      errorRate: compareGuardrail(userRatios(rows, (r) => r.errors)!, controlRatios.errors, rhoSquared),
      latencyMeanMs: latencyRatios && controlRatios.latency ? compareGuardrail(latencyRatios, controlRatios.latency, rhoSquared) : null,
      latencyP50DiffMs: finite(latency.p50 - controlLatency.p50),
      latencyP95DiffMs: finite(latency.p95 - controlLatency.p95),
      latencyP50Ms: latency.quantiles && controlLatency.quantiles ? compareQuantileEstimates(latency.quantiles.p50, controlLatency.quantiles.p50, rhoSquared) : null,
      latencyP95Ms: latency.quantiles && controlLatency.quantiles ? compareQuantileEstimates(latency.quantiles.p95, controlLatency.quantiles.p95, rhoSquared) : null,
      cacheHitRate: cacheUserRatios && controlRatios.cache ? compareGuardrail(cacheUserRatios, controlRatios.cache, rhoSquared) : null,
      cacheHitRateDiff: cacheLookups === 0 || controlLookups === 0 ? null : cache.hits / cacheLookups - controlCache.hits / controlLookups,
      cacheHitRateLookupPValue: finite(twoProportionP(cache.hits, cacheLookups, controlCache.hits, controlLookups)),
    };
  };

  const variants: VariantResult[] = experiment.variants.map((variant) => {
    const rows = byVariant.get(variant)!;
    const estimate = estimates.get(variant)!;
    const requests = rows.reduce((a, r) => a + r.requests, 0);
    const errors = rows.reduce((a, r) => a + r.errors, 0);
    const latency = variant === control ? controlLatency : latencyOf(variant, rows);
    const cache = input.cache.get(variant) ?? { hits: 0, misses: 0 };
    const delivery = input.delivery.get(variant) ?? { served: 0, reported: 0 };
    const metrics = input.metrics.get(variant) ?? { impressions: 0, clickThrough: 0 };
    const histogram = input.latencyHistograms.get(variant);
    const downstream: VariantResult['downstream'] = {};
    for (const group of input.downstream.filter((g) => g.variant === variant)) {
      downstream[group.name] = {
        count: group.count,
        p50Ms: bucketPercentile(group.buckets, group.count, 0.5, input.bucketsPerE),
        p95Ms: bucketPercentile(group.buckets, group.count, 0.95, input.bucketsPerE),
      };
    }
    const comparison = comparisons.get(variant);
    const treatmentIndex = treatments.indexOf(variant);
    const seq = sequential.get(variant);
    const errorRate = share(errors, requests);
    const cacheHitRate = share(cache.hits, cache.hits + cache.misses);
    const deliveryShare = share(delivery.reported, delivery.served);
    return {
      variant,
      users: rows.length,
      requests,
      impressions: estimate.denominator,
      clicks: estimate.numerator,
      rejectedClicks: (input.rejected.unknownRequest[variant] ?? 0) + (input.rejected.variantMismatch[variant] ?? 0) + (input.rejected.invalid?.[variant] ?? 0),
      ctr: finite(estimate.ratio),
      ctrCi95: [finite(estimate.ci95[0]), finite(estimate.ci95[1])],
      metrics: { impressions: metrics.impressions, clickThrough: metrics.clickThrough, ctr: share(metrics.clickThrough, metrics.impressions) },
      vsControl:
        comparison === undefined || seq === undefined
          ? null
          : vsControl({
              variant,
              control,
              comparison,
              pValueHolm: adjusted[treatmentIndex]!,
              sequential: seq,
              sequentialHolm: sequentialHolm[treatmentIndex]!,
              treatment: estimate,
              controlEstimate,
              rhoSquared,
              csAlpha,
              nStar,
              plannedUsersPerArm,
              srmFlagged: srm.flagged,
            }),
      latencyMs: { p50: finite(latency.p50), p95: finite(latency.p95), p99: finite(latency.p99) },
      latencyFromHistogramMs: {
        p50: histogram ? finite(histogramPercentileLogNormal(histogram.bounds, histogram.counts, 0.5)) : null,
        p95: histogram ? finite(histogramPercentileLogNormal(histogram.bounds, histogram.counts, 0.95)) : null,
        p99: histogram ? finite(histogramPercentileLogNormal(histogram.bounds, histogram.counts, 0.99)) : null,
      },
      latencyDistribution: latency.distribution.map((b) => ({ ...b })),
      errorRate,
      cacheHitRate,
      downstream,
      delivery: { share: deliveryShare, served: delivery.served, reported: delivery.reported },
      guardrails: variant === control ? null : guardrails(variant, rows, latency),
    };
  });

  const warnings: string[] = [];
  if (srm.flagged) {
    warnings.push(
      `Sample-ratio mismatch: users per variant differ from the configured split (always-valid p = ${srm.sequentialPValue?.toExponential(2)}); do not trust the comparisons until the cause is found.`,
    );
  }
  for (const result of variants) {
    const delivery = result.guardrails?.delivery;
    if (delivery?.pValue !== null && delivery?.pValue !== undefined && delivery.pValue < DELIVERY_WARNING_ALPHA && (delivery.diff ?? 0) < 0) {
      warnings.push(`Delivery: browser telemetry arrives for fewer of ${result.variant}'s requests than control's (${((delivery.diff ?? 0) * 100).toFixed(1)} points); its CTR may be understated.`);
    }
  }
  const rejectedTotal = (record: Readonly<Record<string, number>>) => Object.values(record).reduce((a, b) => a + b, 0);
  return {
    experiment: experiment.key,
    baggageKey: experiment.baggageKey,
    status: experiment.status,
    winner: experiment.winner ?? null,
    control,
    window: input.window,
    cohort: input.cohort,
    srm,
    rejectedClicks: {
      unknownRequest: rejectedTotal(input.rejected.unknownRequest),
      variantMismatch: rejectedTotal(input.rejected.variantMismatch),
      // What those clicks claimed, as sent: browser-controlled text, rendered escaped.
      unknownRequestByClaimedVariant: { ...input.rejected.unknownRequest },
    },
    invalidClicks: rejectedTotal(input.rejected.invalid ?? {}),
    populations: { holdout: population(input.populations?.holdout), forced: population(input.populations?.forced) },
    warnings,
    variants,
    timeline: experimentTimeline(input.users, experiment.variants, rhoSquared, csAlpha),
  };
}

function population(figures: PopulationFigures | undefined): PopulationFigures & { ctr: number | null } {
  const f = figures ?? { users: 0, requests: 0, impressions: 0, clicks: 0 };
  return { users: f.users, requests: f.requests, impressions: f.impressions, clicks: f.clicks, ctr: share(f.clicks, f.impressions) };
}
