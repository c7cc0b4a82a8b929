/**
 * The results computation on hand-made inputs: the always-valid comparisons, the collecting
 * state, the verdict in words, the tuning size from `plannedUsers`, and the sequential SRM.
 */
import { describe, expect, it } from 'vitest';
import { verdictLine } from '../src/core/comparison-verdict.js';
import { analyzeExperiment, variantLatency, type AnalysisInput } from '../src/core/experiment-analysis.js';
import { parseExperimentsFile, type ExperimentDefinition } from '../src/core/experiment-config.js';
import { seededRandom } from '../../common/src/seeded-random.js';

function experiment(extra: Record<string, unknown> = {}): ExperimentDefinition {
  const file = parseExperimentsFile({
    specVersion: 1,
    experiments: [{ key: 'rec', baggageKey: 'experiment.rec', variants: ['control', 'collaborative', 'hybrid'], ...extra }],
  });
  return file.experiments[0]!;
}

/** Users with 1–10 impressions and click propensity `ctr[variant]`, seeded. */
function users(counts: Record<string, number>, ctr: Record<string, number>, seed = 1): AnalysisInput['users'] {
  const random = seededRandom(seed);
  const rows: { variant: string; user: string; requests: number; impressions: number; errors: number; clicks: number }[] = [];
  for (const [variant, count] of Object.entries(counts)) {
    for (let i = 0; i < count; i += 1) {
      const impressions = 1 + Math.floor(random() * 10);
      let clicks = 0;
      for (let j = 0; j < impressions; j += 1) if (random() < ctr[variant]!) clicks += 1;
      rows.push({ variant, user: `${variant}-${i}`, requests: Math.ceil(impressions / 5), impressions, errors: 0, clicks });
    }
  }
  return rows;
}

function input(definition: ExperimentDefinition, rows: AnalysisInput['users']): AnalysisInput {
  return {
    experiment: definition,
    window: { from: null, to: null },
    cohort: null,
    users: rows,
    rejected: { unknownRequest: {}, variantMismatch: {} },
    durations: new Map(),
    delivery: new Map(),
    downstream: [],
    bucketsPerE: 10,
    cache: new Map(),
    metrics: new Map(),
    latencyHistograms: new Map(),
  };
}

const byVariant = (results: ReturnType<typeof analyzeExperiment>) => Object.fromEntries(results.variants.map((v) => [v.variant, v]));

describe('always-valid comparisons in the results', () => {
  it('below 100 users in an arm nothing is compared, and the results say how many more are needed', () => {
    const results = analyzeExperiment(input(experiment(), users({ control: 150, collaborative: 150, hybrid: 60 }, { control: 0.05, collaborative: 0.05, hybrid: 0.5 })));
    const hybrid = byVariant(results)['hybrid']!.vsControl!;
    expect(hybrid.sequential.usersMissing).toBe(40);
    expect(hybrid.sequential.pValue).toBeNull();
    expect(hybrid.sequential.diffCs).toEqual([null, null]);
    expect(hybrid.significant).toBe(false);
    expect(hybrid.verdict).toEqual({ kind: 'collecting', text: 'collecting: 40 more users in the smaller arm before comparing (100 per arm)' });
    // The fixed-horizon figures are still there, labelled by their own field.
    expect(hybrid.pValue).toBeLessThan(0.05);
    expect(hybrid.fixedHorizon).toEqual({ plannedUsersPerArm: 5000, reached: false });
    expect(byVariant(results)['collaborative']!.vsControl!.sequential.usersMissing).toBe(0);
  });

  it('a large planted lift is significant, its sequence excludes zero at 1 − α/m, and the verdict says decide', () => {
    const results = analyzeExperiment(input(experiment(), users({ control: 3000, collaborative: 3000, hybrid: 3000 }, { control: 0.05, collaborative: 0.05, hybrid: 0.08 }, 7)));
    const hybrid = byVariant(results)['hybrid']!.vsControl!;
    expect(hybrid.significant).toBe(true);
    expect(hybrid.sequential.pValueHolm).toBeLessThan(0.05);
    expect(hybrid.sequential.level).toBeCloseTo(0.975, 12);
    expect(hybrid.sequential.nStar).toBe(10_000);
    expect(hybrid.sequential.diffCs[0]).toBeGreaterThan(0);
    expect(hybrid.sequential.relativeLiftCs[0]).toBeGreaterThan(0);
    expect(hybrid.verdict).toEqual({ kind: 'better', text: 'hybrid beats control: decide' });
    // The sequence is wider than the fixed-horizon interval: that is the price of looking at will.
    expect(hybrid.sequential.diffCs[1]! - hybrid.sequential.diffCs[0]!).toBeGreaterThan(hybrid.diffCi95[1]! - hybrid.diffCi95[0]!);
  });

  it('with no difference the verdict says about how many more users per arm a +10 % lift needs', () => {
    const results = analyzeExperiment(input(experiment(), users({ control: 1000, collaborative: 1000, hybrid: 1000 }, { control: 0.05, collaborative: 0.05, hybrid: 0.05 }, 3)));
    for (const name of ['collaborative', 'hybrid']) {
      const v = byVariant(results)[name]!.vsControl!;
      expect(v.significant).toBe(false);
      expect(v.verdict.kind).toBe('not-yet');
      // Per user, Var(c − R·n) ≈ E[n]·p(1 − p) = 5.5 × 0.0475, so Var(R)·k ≈ 0.26 / 5.5² = 0.0086 per arm;
      // a fixed-horizon interval of ±0.005 (10 % of 5 %) needs 1.96² × 0.0173 / 0.005² ≈ 2,700 users
      // per arm; the sequence at α/2 near N* needs about three times that: 7,000–10,000 in all.
      const total = v.sequential.moreUsersPerArmForTargetLift! + 1000;
      expect(total).toBeGreaterThan(7000);
      expect(total).toBeLessThan(10_000);
      expect(v.verdict.text).toMatch(/^no difference yet: about [\d,]+ more users per arm to detect \+10 %$/);
    }
  });

  it('significant is sequential.pValueHolm < α, and a sequence excluding zero is always significant', () => {
    for (let seed = 1; seed <= 40; seed += 1) {
      const results = analyzeExperiment(input(experiment(), users({ control: 400, collaborative: 400, hybrid: 400 }, { control: 0.05, collaborative: 0.06, hybrid: 0.07 }, seed)));
      for (const v of results.variants.slice(1)) {
        const { sequential, significant } = v.vsControl!;
        expect(significant).toBe(sequential.pValueHolm! < 0.05);
        if (sequential.diffCs[0]! > 0 || sequential.diffCs[1]! < 0) expect(significant, `seed ${seed} ${v.variant}`).toBe(true);
      }
    }
  });

  it('plannedUsers sets the tuning size N* = 2 × planned users per arm', () => {
    const results = analyzeExperiment(input(experiment({ plannedUsers: 20_000 }), users({ control: 200, collaborative: 200, hybrid: 200 }, { control: 0.05, collaborative: 0.05, hybrid: 0.05 })));
    expect(byVariant(results)['hybrid']!.vsControl!.sequential.nStar).toBe(40_000);
    expect(byVariant(results)['hybrid']!.vsControl!.fixedHorizon.plannedUsersPerArm).toBe(20_000);
  });

  it('plannedUsers is validated with the field named', () => {
    expect(() => experiment({ plannedUsers: 10 })).toThrow(/experiment "rec": plannedUsers: expected at least 100 users per arm/);
    expect(() => experiment({ plannedUsers: 1000.5 })).toThrow(/plannedUsers: expected a whole number/);
  });
});

describe('sample-ratio mismatch, always valid', () => {
  it('an even split is not flagged; a 5 % short arm is, with the chi-square kept beside it', () => {
    const even = analyzeExperiment(input(experiment(), users({ control: 2000, collaborative: 2000, hybrid: 2000 }, { control: 0.05, collaborative: 0.05, hybrid: 0.05 })));
    expect(even.srm.flagged).toBe(false);
    expect(even.srm.sequentialPValue).toBe(1);
    const short = analyzeExperiment(input(experiment(), users({ control: 20_000, collaborative: 20_000, hybrid: 19_000 }, { control: 0.05, collaborative: 0.05, hybrid: 0.05 })));
    expect(short.srm.flagged).toBe(true);
    expect(short.srm.sequentialPValue).toBeLessThan(0.001);
    expect(short.srm.pValue).toBeLessThan(short.srm.sequentialPValue!);
    expect(byVariant(short)['hybrid']!.vsControl!.verdict.kind).toBe('srm');
    expect(short.warnings[0]).toMatch(/^Sample-ratio mismatch: .*always-valid p = /);
  });
});

describe('guardrails in the results, the user as the unit', () => {
  /** Users of one variant with `requests` requests each, durations around `medianMs`, and errors and reports as given. */
  function withTelemetry(rows: AnalysisInput['users'], medianMs: Record<string, number>, seed = 5): { rows: AnalysisInput['users']; durations: Map<string, Float64Array> } {
    const random = seededRandom(seed);
    const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const all = new Map<string, number[]>();
    const out = rows.map((row) => {
      const level = medianMs[row.variant]! * Math.exp(0.4 * normal());
      const durationsMs = Array.from({ length: row.requests }, () => level * Math.exp(0.2 * normal()));
      all.set(row.variant, [...(all.get(row.variant) ?? []), ...durationsMs]);
      return { ...row, durationsMs, durationMsSum: durationsMs.reduce((a, b) => a + b, 0), reported: random() < 0.1 ? 0 : row.requests };
    });
    return { rows: out, durations: new Map([...all].map(([v, d]) => [v, Float64Array.from(d).sort()])) };
  }

  it('a variant 50 % slower alarms on mean, p50 and p95 latency; an equal one does not; delivery and errors are compared per user', () => {
    const base = users({ control: 1500, collaborative: 1500, hybrid: 1500 }, { control: 0.05, collaborative: 0.05, hybrid: 0.05 }, 11);
    const { rows, durations } = withTelemetry(base, { control: 10, collaborative: 10, hybrid: 15 });
    const results = analyzeExperiment({ ...input(experiment(), rows), durations });
    const hybrid = byVariant(results)['hybrid']!.guardrails!;
    const collaborative = byVariant(results)['collaborative']!.guardrails!;
    for (const g of [hybrid.latencyMeanMs!, hybrid.latencyP50Ms!, hybrid.latencyP95Ms!]) {
      expect(g.alarm).toBe(true);
      expect(g.diffCs[0]).toBeGreaterThan(0);
    }
    expect(hybrid.latencyP50Ms!.diff).toBeCloseTo(hybrid.latencyP50DiffMs!, 12);
    for (const g of [collaborative.latencyMeanMs!, collaborative.latencyP50Ms!, collaborative.latencyP95Ms!, collaborative.delivery!, collaborative.errorRate]) {
      expect(g.alarm).toBe(false);
      expect(g.pValue).not.toBeNull();
    }
  });

  it('latency figures a source computes itself (the ClickHouse SQL) stand in for the lists of durations', () => {
    const base = users({ control: 1500, collaborative: 1500, hybrid: 1500 }, { control: 0.05, collaborative: 0.05, hybrid: 0.05 }, 11);
    const { rows, durations } = withTelemetry(base, { control: 10, collaborative: 10, hybrid: 15 });
    const fromLists = analyzeExperiment({ ...input(experiment(), rows), durations });
    const latency = new Map(
      ['control', 'collaborative', 'hybrid'].map((v) => [v, variantLatency(durations.get(v)!, rows.filter((r) => r.variant === v).map((r) => r.durationsMs!))]),
    );
    const withoutLists = rows.map(({ durationsMs: _, ...row }) => row);
    const fromSource = analyzeExperiment({ ...input(experiment(), withoutLists), durations: new Map(), latency });
    expect({ ...fromSource, generatedAt: '' }).toEqual({ ...fromLists, generatedAt: '' });
    latency.set('hybrid', { ...latency.get('hybrid')!, p99: 123 });
    const changed = analyzeExperiment({ ...input(experiment(), withoutLists), durations: new Map(), latency });
    expect(byVariant(changed)['hybrid']!.latencyMs.p99).toBe(123);
  });

  it('without per-user durations or reports the user-level latency and delivery tests are null, not request-level guesses', () => {
    const results = analyzeExperiment(input(experiment(), users({ control: 200, collaborative: 200, hybrid: 200 }, { control: 0.05, collaborative: 0.05, hybrid: 0.05 })));
    const g = byVariant(results)['hybrid']!.guardrails!;
    expect(g.latencyMeanMs).toBeNull();
    expect(g.latencyP50Ms).toBeNull();
    expect(g.delivery).toBeNull();
    expect(g.errorRate.pValue).not.toBeNull();
  });
});

describe('verdict lines', () => {
  it('name the treatment once', () => {
    expect(verdictLine('hybrid', 'hybrid beats control: decide')).toBe('hybrid beats control: decide');
    expect(verdictLine('collaborative', 'no difference yet: keep collecting')).toBe('collaborative — no difference yet: keep collecting');
    expect(verdictLine('hy', 'hybrid beats control: decide')).toBe('hy — hybrid beats control: decide');
  });
});
