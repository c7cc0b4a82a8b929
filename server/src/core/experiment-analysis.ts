/**
 * Turns the rows the analysis store returns into an experiment's results: CTR with the
 * user as the unit, comparisons with the control (Holm-adjusted), sample-ratio and delivery
 * checks, and guardrails. Pure: the rows come in, the results go out.
 */
import type { ExperimentDefinition } from './experiment-config.js';
import {
  chiSquareGoodnessOfFit,
  compareRatios,
  histogramPercentile,
  holm,
  mannWhitneyP,
  percentile,
  ratioEstimate,
  twoProportionP,
  type RatioEstimate,
} from './statistics.js';

/** SRM is flagged below this p-value (the usual, deliberately strict, threshold). */
export const SRM_ALPHA = 0.001;

export interface AnalysisInput {
  readonly experiment: ExperimentDefinition;
  readonly window: { readonly from: string | null; readonly to: string | null };
  readonly cohort: string | null;
  readonly users: readonly { variant: string; user: string; requests: number; impressions: number; errors: number; clicks: number }[];
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

/** What a population outside the comparisons did. */
export interface PopulationFigures {
  readonly users: number;
  readonly requests: number;
  readonly impressions: number;
  readonly clicks: number;
}

export interface VariantResult {
  variant: string;
  users: number;
  requests: number;
  impressions: number;
  clicks: number;
  rejectedClicks: number;
  ctr: number | null;
  ctrCi95: [number | null, number | null];
  metrics: { impressions: number; clickThrough: number; ctr: number | null };
  vsControl: null | { diff: number | null; diffCi95: [number | null, number | null]; relativeLift: number | null; pValue: number | null; pValueHolm: number | null };
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  latencyFromHistogramMs: { p50: number | null; p95: number | null; p99: number | null };
  /** Request latency distribution: how many requests took at most each bound (the last is "more"). */
  latencyDistribution: { upToMs: number | null; count: number }[];
  errorRate: number | null;
  cacheHitRate: number | null;
  downstream: Record<string, { count: number; p50Ms: number | null; p95Ms: number | null }>;
  delivery: { share: number | null; served: number; reported: number };
  guardrails: null | {
    latencyP50DiffMs: number | null;
    latencyPValue: number | null;
    errorRateDiff: number | null;
    errorRatePValue: number | null;
    cacheHitRateDiff: number | null;
    cacheHitRatePValue: number | null;
    deliveryShareDiff: number | null;
    deliveryPValue: number | null;
  };
}

export interface ExperimentResults {
  experiment: string;
  baggageKey: string;
  status: string;
  winner: string | null;
  control: string;
  window: { from: string | null; to: string | null };
  cohort: string | null;
  srm: { pValue: number | null; statistic: number; flagged: boolean; users: Record<string, number>; expectedShares: Record<string, number> };
  rejectedClicks: { unknownRequest: number; variantMismatch: number; unknownRequestByClaimedVariant: Record<string, number> };
  /** Clicks that named a served request but broke an attribution rule (see the README's trust model). */
  invalidClicks: number;
  /** Visitors kept out of every comparison, counted apart. */
  populations: { holdout: PopulationFigures & { ctr: number | null }; forced: PopulationFigures & { ctr: number | null } };
  warnings: string[];
  variants: VariantResult[];
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
  const srm = {
    pValue: totalUsers > 0 ? finite(srmTest.pValue) : null,
    statistic: srmTest.statistic,
    flagged: totalUsers > 0 && srmTest.pValue < SRM_ALPHA,
    users: usersPerVariant,
    expectedShares,
  };

  const treatments = experiment.variants.slice(1);
  const comparisons = new Map(treatments.map((v) => [v, compareRatios(estimates.get(v)!, estimates.get(control)!)]));
  const adjusted = holm(treatments.map((v) => comparisons.get(v)!.pValue));
  const durationsControl = input.durations.get(control) ?? [];
  const controlErrors = byVariant.get(control)!.reduce((a, r) => a + r.errors, 0);
  const controlRequests = byVariant.get(control)!.reduce((a, r) => a + r.requests, 0);
  const controlCache = input.cache.get(control) ?? { hits: 0, misses: 0 };
  const controlDelivery = input.delivery.get(control) ?? { served: 0, reported: 0 };

  const variants: VariantResult[] = experiment.variants.map((variant) => {
    const rows = byVariant.get(variant)!;
    const estimate = estimates.get(variant)!;
    const requests = rows.reduce((a, r) => a + r.requests, 0);
    const errors = rows.reduce((a, r) => a + r.errors, 0);
    const durations = input.durations.get(variant) ?? [];
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
        comparison === undefined
          ? null
          : {
              diff: finite(comparison.diff),
              diffCi95: [finite(comparison.diffCi95[0]), finite(comparison.diffCi95[1])],
              relativeLift: finite(comparison.relativeLift),
              pValue: finite(comparison.pValue),
              pValueHolm: finite(adjusted[treatmentIndex]!),
            },
      latencyMs: { p50: finite(percentile(durations, 0.5)), p95: finite(percentile(durations, 0.95)), p99: finite(percentile(durations, 0.99)) },
      latencyFromHistogramMs: {
        p50: histogram ? finite(histogramPercentile(histogram.bounds, histogram.counts, 0.5)) : null,
        p95: histogram ? finite(histogramPercentile(histogram.bounds, histogram.counts, 0.95)) : null,
        p99: histogram ? finite(histogramPercentile(histogram.bounds, histogram.counts, 0.99)) : null,
      },
      latencyDistribution: distribution(durations),
      errorRate,
      cacheHitRate,
      downstream,
      delivery: { share: deliveryShare, served: delivery.served, reported: delivery.reported },
      guardrails:
        variant === control
          ? null
          : {
              latencyP50DiffMs: finite(percentile(durations, 0.5) - percentile(durationsControl, 0.5)),
              latencyPValue: finite(mannWhitneyP(durations, durationsControl)),
              errorRateDiff: errorRate === null || controlRequests === 0 ? null : errorRate - controlErrors / controlRequests,
              errorRatePValue: finite(twoProportionP(errors, requests, controlErrors, controlRequests)),
              cacheHitRateDiff:
                cacheHitRate === null || controlCache.hits + controlCache.misses === 0 ? null : cacheHitRate - controlCache.hits / (controlCache.hits + controlCache.misses),
              cacheHitRatePValue: finite(twoProportionP(cache.hits, cache.hits + cache.misses, controlCache.hits, controlCache.hits + controlCache.misses)),
              deliveryShareDiff: deliveryShare === null || controlDelivery.served === 0 ? null : deliveryShare - controlDelivery.reported / controlDelivery.served,
              deliveryPValue: finite(twoProportionP(delivery.reported, delivery.served, controlDelivery.reported, controlDelivery.served)),
            },
    };
  });

  const warnings: string[] = [];
  if (srm.flagged) {
    warnings.push(`Sample-ratio mismatch: users per variant differ from the configured split (p = ${srm.pValue?.toExponential(2)}); do not trust the comparisons until the cause is found.`);
  }
  for (const result of variants) {
    const g = result.guardrails;
    if (g?.deliveryPValue !== null && g?.deliveryPValue !== undefined && g.deliveryPValue < 0.01 && (g.deliveryShareDiff ?? 0) < 0) {
      warnings.push(`Delivery: browser telemetry arrives for fewer of ${result.variant}'s requests than control's (${((g.deliveryShareDiff ?? 0) * 100).toFixed(1)} points); its CTR may be understated.`);
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
  };
}

function population(figures: PopulationFigures | undefined): PopulationFigures & { ctr: number | null } {
  const f = figures ?? { users: 0, requests: 0, impressions: 0, clicks: 0 };
  return { users: f.users, requests: f.requests, impressions: f.impressions, clicks: f.clicks, ctr: share(f.clicks, f.impressions) };
}
