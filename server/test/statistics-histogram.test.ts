/**
 * Percentiles from the `recommendation.latency` histogram against the exact percentiles of the
 * same (lognormal) durations: within 5 %, with the buckets the server really uses.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../common/src/seeded-random.js';
import { histogramPercentile, histogramPercentileLogNormal, percentile } from '../src/core/statistics.js';
import { LATENCY_BUCKETS_MS } from '../src/node/index.js';

const TOLERANCE = 0.05;
const SAMPLES = 50_000;

function lognormalSample(median: number, sigma: number, seed: number): Float64Array {
  const random = seededRandom(seed);
  const values = new Float64Array(SAMPLES);
  for (let i = 0; i < SAMPLES; i += 1) {
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    values[i] = median * Math.exp(sigma * z);
  }
  return values.sort();
}

/** Bucket counts as the OpenTelemetry SDK makes them: bucket i holds (bounds[i−1], bounds[i]], the last is the overflow. */
function bucketCounts(sorted: Float64Array, bounds: readonly number[]): number[] {
  const counts = new Array<number>(bounds.length + 1).fill(0);
  let bucket = 0;
  for (const value of sorted) {
    while (bucket < bounds.length && value > bounds[bucket]!) bucket += 1;
    counts[bucket]! += 1;
  }
  return counts;
}

const CASES = [0.8, 2, 4, 12, 40, 150, 600].flatMap((median) => [0.25, 0.5, 0.8, 1.2].map((sigma) => ({ median, sigma })));

describe(`latency percentiles from the histogram (buckets ${LATENCY_BUCKETS_MS.join(', ')} ms), lognormal durations`, () => {
  it.each(CASES)('median $median ms, σ $sigma: p50, p95, p99 within 5 % of the exact percentiles', ({ median, sigma }) => {
    const sorted = lognormalSample(median, sigma, Math.round(median * 1000 + sigma * 10));
    const counts = bucketCounts(sorted, LATENCY_BUCKETS_MS);
    for (const q of [0.5, 0.95, 0.99]) {
      const exact = percentile(sorted, q);
      const estimate = histogramPercentileLogNormal(LATENCY_BUCKETS_MS, counts, q);
      expect(Math.abs(estimate / exact - 1), `q ${q}: ${estimate} vs exact ${exact}`).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  it('linear interpolation inside the buckets (the old estimate) is far off on the same data', () => {
    let worst = 0;
    for (const { median, sigma } of CASES) {
      const sorted = lognormalSample(median, sigma, Math.round(median * 1000 + sigma * 10));
      const counts = bucketCounts(sorted, LATENCY_BUCKETS_MS);
      for (const q of [0.5, 0.95, 0.99]) worst = Math.max(worst, Math.abs(histogramPercentile(LATENCY_BUCKETS_MS, counts, q) / percentile(sorted, q) - 1));
    }
    console.log(`linear interpolation inside the buckets: worst error ${(worst * 100).toFixed(0)} %`);
    expect(worst).toBeGreaterThan(0.2);
  });

  it('durations nearly all inside one bucket give NaN (null in the results), not a guess', () => {
    // Median 0.3 ms, σ 0.25: 98 % of the values are in the first bucket, (0, 0.5].
    const sorted = lognormalSample(0.3, 0.25, 2);
    expect(histogramPercentileLogNormal(LATENCY_BUCKETS_MS, bucketCounts(sorted, LATENCY_BUCKETS_MS), 0.5)).toBeNaN();
  });

  it('any data: the estimate stays inside the bucket that holds the percentile, and one bucket alone gives NaN', () => {
    const bounds = [1, 2, 4, 8];
    // Bimodal, far from lognormal.
    const counts = [10, 0, 0, 80, 10];
    for (const q of [0.05, 0.5, 0.95]) {
      const estimate = histogramPercentileLogNormal(bounds, counts, q);
      if (q === 0.05) expect(estimate).toBeLessThanOrEqual(1);
      if (q === 0.5) expect(estimate >= 4 && estimate <= 8).toBe(true);
      if (q === 0.95) expect(estimate).toBeGreaterThanOrEqual(8);
    }
    expect(histogramPercentileLogNormal(bounds, [0, 0, 100, 0, 0], 0.5)).toBeNaN();
    expect(histogramPercentileLogNormal(bounds, [0, 0, 0, 0, 0], 0.5)).toBeNaN();
  });
});
