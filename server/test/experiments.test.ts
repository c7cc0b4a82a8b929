import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { assignVariant, assignWeightedVariant, unitHash } from '../src/core/assignment.js';
import { parseExperimentsFile, type ExperimentsFile } from '../src/core/experiment-config.js';
import {
  COHORT_BAGGAGE_KEY,
  assignUser,
  cohortOf,
  experimentMetricAttributes,
  inHoldout,
  type Assignment,
} from '../src/core/experiments.js';
import { ExperimentService } from '../src/services/experiment-service.js';

/**
 * Ids are `user-0` … `user-99999`: fixed, so every statistical bound below either always
 * holds or always fails — a failure means the code changed, not bad luck.
 */
const SAMPLE = 100_000;
/**
 * ±1 percentage point on a share measured over SAMPLE ids. The binomial SD of a share is
 * sqrt(p(1 - p) / n), at most sqrt(0.25 / 100,000) ≈ 0.16 pp, so the bound is > 6 SD wide
 * for a correct implementation, yet far tighter than any real bug (e.g. 80/20 served as 50/50).
 */
const SHARE_TOLERANCE = 0.01;
/** Chi-square critical values at p = 0.001 (1 and 2 degrees of freedom). */
const CHI_SQUARE_CRITICAL_P001 = { dof1: 10.828, dof2: 13.816 } as const;
/** Ids for the exact (non-statistical) checks: enough to meet every variant many times. */
const EXACT_SAMPLE = 10_000;

const REC = { key: 'rec_algorithm_v3', baggageKey: 'experiment.rec_algorithm', variants: ['control', 'collaborative', 'hybrid'] } as const;
const BOOST = { key: 'ranking_boost_v2', baggageKey: 'experiment.ranking_boost', variants: ['control', 'recency_boost'] } as const;

const shippedRaw: unknown = JSON.parse(readFileSync(new URL('../../config/experiments.json', import.meta.url), 'utf8'));
const shipped = parseExperimentsFile(shippedRaw, 'config/experiments.json');

function sampleIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `user-${i}`);
}

/** An experiments file through the real schema, so defaults are filled as in production. */
function fileOf(experiments: readonly object[], options: Record<string, unknown> = {}): ExperimentsFile {
  return parseExperimentsFile({ specVersion: 1, ...options, experiments });
}

function assign(userId: string, file: ExperimentsFile, forced?: Readonly<Record<string, string>>): Assignment {
  return assignUser(userId, file, cohortOf(userId), forced);
}

/** Goodness of fit of counts to expected shares (uniform when omitted). */
function chiSquareFit(counts: readonly number[], shares?: readonly number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.reduce((sum, observed, i) => {
    const expected = total * (shares?.[i] ?? 1 / counts.length);
    return sum + (observed - expected) ** 2 / expected;
  }, 0);
}

/** Pearson's chi-square for independence of rows and columns of a contingency table. */
function chiSquareIndependence(table: readonly (readonly number[])[]): number {
  const total = table.flat().reduce((a, b) => a + b, 0);
  const rowTotals = table.map((row) => row.reduce((a, b) => a + b, 0));
  const colTotals = table[0]!.map((_, j) => table.reduce((sum, row) => sum + row[j]!, 0));
  let chiSquare = 0;
  table.forEach((row, i) =>
    row.forEach((observed, j) => {
      const expected = (rowTotals[i]! * colTotals[j]!) / total;
      chiSquare += (observed - expected) ** 2 / expected;
    }),
  );
  return chiSquare;
}

/** How many ids got each variant of `variants` in experiment `key`. */
function variantCounts(assignments: readonly Assignment[], key: string, variants: readonly string[]): number[] {
  const counts = variants.map(() => 0);
  for (const a of assignments) counts[variants.indexOf(a.experiments[key]!)]! += 1;
  return counts;
}

describe('equal weights: the SPEC default assignment is unchanged', () => {
  const ids = sampleIds(EXACT_SAMPLE);

  it.each<[string, readonly number[] | undefined]>([
    ['absent', undefined],
    ['explicitly [2, 2, 2]', [2, 2, 2]],
    ['explicitly [0.25, 0.25, 0.25]', [0.25, 0.25, 0.25]],
  ])('weights %s give exactly assignVariant for 10,000 ids', (_label, weights) => {
    const file = fileOf([{ ...REC, ...(weights === undefined ? {} : { weights }) }]);
    const mismatches = ids.filter((id) => {
      const a = assign(id, file);
      return a.experiments[REC.key] !== assignVariant(id, REC) || a.reasons[REC.key] !== 'split' || a.baggage[REC.baggageKey] !== a.experiments[REC.key];
    });
    expect(mismatches).toEqual([]);
  });

  it('the shipped file gives exactly assignVariant in both SPEC experiments', () => {
    const mismatches = ids.filter((id) => {
      const a = assign(id, shipped);
      return a.experiments[REC.key] !== assignVariant(id, REC) || a.experiments[BOOST.key] !== assignVariant(id, BOOST);
    });
    expect(mismatches).toEqual([]);
  });
});

describe('unequal weights', () => {
  const ids = sampleIds(SAMPLE);

  it.each<[string, readonly string[], readonly number[]]>([
    ['[0.8, 0.2]', BOOST.variants, [0.8, 0.2]],
    ['[1, 2, 7]', REC.variants, [1, 2, 7]],
    ['[3, 1]', BOOST.variants, [3, 1]],
  ])('weights %s are honoured within ±1 pp over 100,000 ids', (_label, variants, weights) => {
    const file = fileOf([{ key: 'weighted_v1', baggageKey: 'experiment.weighted', variants, weights }]);
    const assignments = ids.map((id) => assign(id, file));
    const counts = variantCounts(assignments, 'weighted_v1', variants);
    const total = weights.reduce((a, b) => a + b, 0);
    const shares = weights.map((w) => w / total);
    counts.forEach((count, i) => {
      expect(Math.abs(count / SAMPLE - shares[i]!), `${variants[i]}: ${count}`).toBeLessThan(SHARE_TOLERANCE);
    });
    const dof = variants.length - 1;
    expect(chiSquareFit(counts, shares)).toBeLessThan(dof === 1 ? CHI_SQUARE_CRITICAL_P001.dof1 : CHI_SQUARE_CRITICAL_P001.dof2);
    expect(assignments.every((a) => a.reasons.weighted_v1 === 'split' && a.baggage['experiment.weighted'] === a.experiments.weighted_v1)).toBe(true);
  });
});

describe('allocation 0.3', () => {
  const ALLOCATION = 0.3;
  const file = fileOf([{ ...REC, allocation: ALLOCATION }]);
  const ids = sampleIds(SAMPLE);
  let assignments: Assignment[] = [];
  let enrolled: boolean[] = [];

  beforeAll(() => {
    assignments = ids.map((id) => assign(id, file));
    enrolled = assignments.map((a) => REC.baggageKey in a.baggage);
  });

  it('enrolls ≈30% of users (±1 pp)', () => {
    const share = enrolled.filter(Boolean).length / SAMPLE;
    expect(Math.abs(share - ALLOCATION)).toBeLessThan(SHARE_TOLERANCE);
  });

  it('serves users outside the allocation the control, reason default, with no baggage entry', () => {
    const wrong = assignments.filter((a, i) => {
      if (enrolled[i]) return false;
      return a.experiments[REC.key] !== 'control' || a.reasons[REC.key] !== 'default' || Object.keys(a.baggage).join() !== COHORT_BAGGAGE_KEY;
    });
    expect(wrong).toEqual([]);
  });

  it('gives enrolled users reason split and their SPEC variant in baggage', () => {
    const wrong = ids.filter((id, i) => {
      if (!enrolled[i]) return false;
      const a = assignments[i]!;
      return a.reasons[REC.key] !== 'split' || a.baggage[REC.baggageKey] !== assignVariant(id, REC) || a.experiments[REC.key] !== assignVariant(id, REC);
    });
    expect(wrong).toEqual([]);
  });

  it('keeps the variant split uniform among enrolled users (chi-square, 2 dof, p = 0.001)', () => {
    const counts = variantCounts(assignments.filter((_, i) => enrolled[i]), REC.key, REC.variants);
    expect(chiSquareFit(counts)).toBeLessThan(CHI_SQUARE_CRITICAL_P001.dof2);
  });

  it('enrolls users independently of the variant they would get (contingency chi-square, 2 dof)', () => {
    // Rows: the variant the SPEC hash gives; columns: enrolled or not.
    const table = REC.variants.map(() => [0, 0]);
    ids.forEach((id, i) => {
      table[REC.variants.indexOf(assignVariant(id, REC) as (typeof REC.variants)[number])]![enrolled[i] ? 0 : 1]! += 1;
    });
    expect(chiSquareIndependence(table)).toBeLessThan(CHI_SQUARE_CRITICAL_P001.dof2);
    // Each row holds ≈33,000 ids: binomial SD ≈ 0.25 pp, so ±1.5 pp is still > 6 SD.
    for (const [inside, outside] of table) expect(Math.abs(inside! / (inside! + outside!) - ALLOCATION)).toBeLessThan(0.015);
  });

  it('keeps unequal weights among enrolled users: the allocation hash is not the variant hash', () => {
    // Were the same uniform number used for both, everyone enrolled (u < 0.3) would get the 0.8 variant.
    const weighted = fileOf([{ ...BOOST, allocation: ALLOCATION, weights: [0.8, 0.2] }]);
    const inside = ids.map((id) => assign(id, weighted)).filter((a) => a.reasons[BOOST.key] === 'split');
    const counts = variantCounts(inside, BOOST.key, BOOST.variants);
    // ≈30,000 enrolled ids: binomial SD ≈ 0.23 pp at 80%, so ±1.5 pp is > 6 SD.
    expect(Math.abs(counts[0]! / inside.length - 0.8)).toBeLessThan(0.015);
    expect(Math.abs(inside.length / SAMPLE - ALLOCATION)).toBeLessThan(SHARE_TOLERANCE);
  });

  it('reports not-enrolled users as unknown in metric attributes', () => {
    const i = enrolled.indexOf(false);
    expect(experimentMetricAttributes(file.experiments, assignments[i]!.baggage)).toEqual({ [REC.baggageKey]: 'unknown' });
    const j = enrolled.indexOf(true);
    expect(experimentMetricAttributes(file.experiments, assignments[j]!.baggage)).toEqual({ [REC.baggageKey]: assignments[j]!.experiments[REC.key] });
  });
});

describe('layers', () => {
  const ids = sampleIds(SAMPLE);
  type Range = readonly [number, number];
  const railA = (layerRange: Range, fields: Record<string, unknown> = {}) => ({
    key: 'rail_a', baggageKey: 'experiment.rail_a', variants: ['control', 'treatment'], layer: 'rail', layerRange, ...fields,
  });
  const railB = (layerRange: Range, fields: Record<string, unknown> = {}) => ({
    key: 'rail_b', baggageKey: 'experiment.rail_b', variants: ['control', 'fresh', 'popular'], layer: 'rail', layerRange, ...fields,
  });
  const layered = (rangeA: Range, rangeB: Range) =>
    fileOf([
      railA(rangeA),
      railB(rangeB),
      // Outside the layer: must be untouched by it.
      BOOST,
    ]);
  const inRange = (id: string, [start, end]: Range) => {
    const u = unitHash(id, 'layer:rail');
    return u >= start && u < end;
  };
  /** The ids enrolled in rail_b, in order: compared as a whole, not by count. */
  const enrolledInB = (file: ExperimentsFile) => ids.filter((id) => 'experiment.rail_b' in assign(id, file).baggage);

  function census(file: ExperimentsFile) {
    const tally = { a: 0, b: 0, both: 0, neither: 0, boostWrong: 0 };
    const aVariants = [0, 0];
    for (const id of ids) {
      const a = assign(id, file);
      const inA = 'experiment.rail_a' in a.baggage;
      const inB = 'experiment.rail_b' in a.baggage;
      if (inA) {
        tally.a += 1;
        aVariants[a.experiments.rail_a === 'control' ? 0 : 1]! += 1;
      }
      if (inB) tally.b += 1;
      if (inA && inB) tally.both += 1;
      if (!inA && !inB) tally.neither += 1;
      if (a.baggage[BOOST.baggageKey] !== assignVariant(id, BOOST)) tally.boostWrong += 1;
    }
    return { ...tally, aVariants };
  }

  it('with slices [0, 0.5) and [0.5, 1) enrolls nobody in both and each ≈50% (±1 pp)', () => {
    const t = census(layered([0, 0.5], [0.5, 1]));
    expect(t.both).toBe(0);
    expect(Math.abs(t.a / SAMPLE - 0.5)).toBeLessThan(SHARE_TOLERANCE);
    expect(Math.abs(t.b / SAMPLE - 0.5)).toBeLessThan(SHARE_TOLERANCE);
    // The two slices tile the whole layer.
    expect(t.neither).toBe(0);
    expect(t.boostWrong).toBe(0);
  });

  it('with slices [0, 0.3) and [0.5, 0.8) enrolls nobody in both, each ≈30% and ≈40% in neither (±1 pp)', () => {
    const t = census(layered([0, 0.3], [0.5, 0.8]));
    expect(t.both).toBe(0);
    expect(Math.abs(t.a / SAMPLE - 0.3)).toBeLessThan(SHARE_TOLERANCE);
    expect(Math.abs(t.b / SAMPLE - 0.3)).toBeLessThan(SHARE_TOLERANCE);
    expect(Math.abs(t.neither / SAMPLE - 0.4)).toBeLessThan(SHARE_TOLERANCE);
    expect(t.boostWrong).toBe(0);
    // The layer's slice does not bias the variant within it.
    expect(chiSquareFit(t.aVariants)).toBeLessThan(CHI_SQUARE_CRITICAL_P001.dof1);
  });

  it('enrolls exactly the ids whose unitHash(userId, "layer:rail") falls in the slice, with reason split and the hashed variant', () => {
    const file = layered([0.1, 0.35], [0.6, 0.95]);
    const wrong = ids.slice(0, EXACT_SAMPLE).filter((id) => {
      const a = assign(id, file);
      for (const [experiment, range] of [[file.experiments[0]!, [0.1, 0.35]], [file.experiments[1]!, [0.6, 0.95]]] as const) {
        const enrolled = inRange(id, range);
        if ((experiment.baggageKey in a.baggage) !== enrolled) return true;
        if (a.reasons[experiment.key] !== (enrolled ? 'split' : 'default')) return true;
        if (a.experiments[experiment.key] !== (enrolled ? assignWeightedVariant(id, experiment) : 'control')) return true;
      }
      return false;
    });
    expect(wrong).toEqual([]);
  });

  it('ignores allocation for an experiment in a layer: the slice alone decides', () => {
    const withAllocation = fileOf([railA([0, 0.3]), railB([0.5, 0.8], { allocation: 0.1 })]);
    const without = fileOf([railA([0, 0.3]), railB([0.5, 0.8])]);
    const enrolled = enrolledInB(withAllocation);
    expect(enrolled).toEqual(enrolledInB(without));
    expect(Math.abs(enrolled.length / SAMPLE - 0.3)).toBeLessThan(SHARE_TOLERANCE);
  });

  it('does not count a concluded neighbour against the layer: the running experiment keeps its share', () => {
    const file = fileOf([railA([0, 0.5], { status: 'concluded', winner: 'treatment' }), railB([0.5, 1])]);
    const share = ids.slice(0, 20_000).filter((id) => 'experiment.rail_b' in assign(id, file).baggage).length / 20_000;
    // 20,000 ids: SD ≈ 0.35 pp, ±2 pp is > 5 SD.
    expect(Math.abs(share - 0.5)).toBeLessThan(0.02);
  });

  it("keeps exactly the same users in an experiment when its neighbour concludes", () => {
    const before = enrolledInB(fileOf([railA([0, 0.2]), railB([0.5, 0.8])]));
    const after = enrolledInB(fileOf([railA([0, 0.2], { status: 'concluded', winner: 'treatment' }), railB([0.5, 0.8])]));
    expect(Math.abs(before.length / SAMPLE - 0.3)).toBeLessThan(SHARE_TOLERANCE);
    expect(after).toEqual(before);
  });

  it("keeps exactly the same users in an experiment when its neighbour's slice widens into free space", () => {
    const before = enrolledInB(fileOf([railA([0, 0.2]), railB([0.5, 0.8])]));
    const widened = fileOf([railA([0, 0.3]), railB([0.5, 0.8])]);
    expect(before.length).toBeGreaterThan(0);
    expect(enrolledInB(widened)).toEqual(before);
    // The widened experiment grows, and only by users that were in no experiment of the layer.
    const t = census(widened);
    expect(Math.abs(t.a / SAMPLE - 0.3)).toBeLessThan(SHARE_TOLERANCE);
    expect(t.both).toBe(0);
  });
});

describe('holdout share 0.1', () => {
  const HOLDOUT = 0.1;
  const file = fileOf([REC, BOOST], { holdout: { key: 'global_2026', share: HOLDOUT } });
  const ids = sampleIds(SAMPLE);
  let assignments: Assignment[] = [];

  beforeAll(() => {
    assignments = ids.map((id) => assign(id, file));
  });

  const inNoExperiment = (a: Assignment) => Object.values(a.reasons).every((r) => r === 'default');

  it('enrolls ≈10% of users in no experiment (±1 pp)', () => {
    const share = assignments.filter(inNoExperiment).length / SAMPLE;
    expect(Math.abs(share - HOLDOUT)).toBeLessThan(SHARE_TOLERANCE);
  });

  it('holds out exactly the users inHoldout names: control everywhere, baggage only the cohort', () => {
    const wrong = ids.filter((id, i) => {
      const a = assignments[i]!;
      if (inHoldout(id, file) !== inNoExperiment(a)) return true;
      if (!inHoldout(id, file)) return false;
      return (
        a.experiments[REC.key] !== 'control' ||
        a.experiments[BOOST.key] !== 'control' ||
        JSON.stringify(a.baggage) !== JSON.stringify({ [COHORT_BAGGAGE_KEY]: cohortOf(id) })
      );
    });
    expect(wrong).toEqual([]);
  });

  it('leaves everyone else on the SPEC assignment in both experiments', () => {
    const wrong = ids.filter((id, i) => {
      const a = assignments[i]!;
      if (inHoldout(id, file)) return false;
      return (
        a.reasons[REC.key] !== 'split' ||
        a.reasons[BOOST.key] !== 'split' ||
        a.baggage[REC.baggageKey] !== assignVariant(id, REC) ||
        a.baggage[BOOST.baggageKey] !== assignVariant(id, BOOST)
      );
    });
    expect(wrong).toEqual([]);
  });

  it('holds out nobody with share 0 or without a holdout', () => {
    const zero = fileOf([REC], { holdout: { key: 'global_2026', share: 0 } });
    for (const id of ids.slice(0, 1000)) {
      expect(inHoldout(id, zero)).toBe(false);
      expect(inHoldout(id, shipped)).toBe(false);
    }
  });
});

describe('forced variants', () => {
  it("applies the file's forcedVariants allow-list: reason targeting_match, variant in baggage", () => {
    for (const [userId, variant] of [['qa-hybrid', 'hybrid'], ['qa-collaborative', 'collaborative']] as const) {
      const a = assign(userId, shipped);
      expect(a.experiments[REC.key], userId).toBe(variant);
      expect(a.reasons[REC.key], userId).toBe('targeting_match');
      expect(a.baggage[REC.baggageKey], userId).toBe(variant);
      // Forcing one experiment leaves the other on the hash.
      expect(a.experiments[BOOST.key], userId).toBe(assignVariant(userId, BOOST));
      expect(a.reasons[BOOST.key], userId).toBe('split');
    }
  });

  it('applies the forced argument of assignUser', () => {
    for (const id of sampleIds(300)) {
      const a = assign(id, shipped, { [REC.key]: 'collaborative', [BOOST.key]: 'recency_boost' });
      expect(a.experiments).toEqual({ [REC.key]: 'collaborative', [BOOST.key]: 'recency_boost' });
      expect(a.reasons).toEqual({ [REC.key]: 'targeting_match', [BOOST.key]: 'targeting_match' });
      expect(a.baggage).toEqual({ [REC.baggageKey]: 'collaborative', [BOOST.baggageKey]: 'recency_boost', [COHORT_BAGGAGE_KEY]: 'registered' });
    }
  });

  it('ignores a forced variant that is not a variant of the experiment, and unknown experiment keys', () => {
    for (const id of sampleIds(300)) {
      const a = assign(id, shipped, { [REC.key]: 'neural', [BOOST.key]: 'CONTROL', no_such_experiment: 'control' });
      expect(a).toEqual(assign(id, shipped));
      expect(a.reasons[REC.key]).toBe('split');
    }
  });

  it('lets the file allow-list win over the forced argument', () => {
    const a = assign('qa-hybrid', shipped, { [REC.key]: 'control' });
    expect(a.experiments[REC.key]).toBe('hybrid');
  });

  it('forces users who are outside the allocation or in the holdout', () => {
    const file = fileOf([{ ...REC, allocation: 0.01 }], { holdout: { key: 'global', share: 0.5 } });
    const outside = sampleIds(1000).filter((id) => assign(id, file).reasons[REC.key] === 'default');
    expect(outside.length).toBeGreaterThan(900);
    for (const id of outside.slice(0, 100)) {
      const a = assign(id, file, { [REC.key]: 'hybrid' });
      expect(a.reasons[REC.key]).toBe('targeting_match');
      expect(a.baggage[REC.baggageKey]).toBe('hybrid');
    }
  });

  it.each(['toString', 'constructor', '__proto__', 'valueOf', 'hasOwnProperty'])(
    'looks up forced variants by own properties only: user id %s gets the forced variant, reason targeting_match',
    (userId) => {
      const a = assign(userId, shipped, { [REC.key]: 'collaborative', [BOOST.key]: 'recency_boost' });
      expect(a.experiments).toEqual({ [REC.key]: 'collaborative', [BOOST.key]: 'recency_boost' });
      expect(a.reasons).toEqual({ [REC.key]: 'targeting_match', [BOOST.key]: 'targeting_match' });
      expect(a.baggage).toEqual({ [REC.baggageKey]: 'collaborative', [BOOST.baggageKey]: 'recency_boost', [COHORT_BAGGAGE_KEY]: 'registered' });
      // Without the forced argument, such an id is hashed like any other.
      const plain = assign(userId, shipped);
      expect(plain.reasons).toEqual({ [REC.key]: 'split', [BOOST.key]: 'split' });
      expect(plain.experiments).toEqual({ [REC.key]: assignVariant(userId, REC), [BOOST.key]: assignVariant(userId, BOOST) });
    },
  );

  it('does not take an inherited property of the forced map for an experiment named like one', () => {
    const file = fileOf([{ key: 'constructor', baggageKey: 'experiment.constructor', variants: ['control', 'treatment'] }]);
    for (const id of sampleIds(100)) {
      const a = assign(id, file, {});
      expect(a.reasons.constructor).toBe('split');
      expect(a.experiments.constructor).toBe(assignVariant(id, { key: 'constructor', variants: ['control', 'treatment'] }));
    }
  });

  describe('through ExperimentService.assign', () => {
    const forced = { [REC.key]: 'hybrid' };
    const ids = sampleIds(300);

    it('ignores the forced map when the file does not allow the query parameter', () => {
      const service = new ExperimentService(shipped);
      expect(service.forcedVariantQueryAllowed).toBe(false);
      for (const id of ids) expect(service.assign(id, forced)).toEqual(service.assign(id));
      expect(ids.some((id) => service.assign(id, forced).experiments[REC.key] !== 'hybrid')).toBe(true);
      // The file's own allow-list still applies.
      expect(service.assign('qa-collaborative', forced).experiments[REC.key]).toBe('collaborative');
    });

    it('honours the forced map when the file sets allowForcedVariantQuery: true', () => {
      const service = new ExperimentService(parseExperimentsFile({ ...(shippedRaw as object), allowForcedVariantQuery: true }));
      expect(service.forcedVariantQueryAllowed).toBe(true);
      for (const id of ids) {
        const a = service.assign(id, forced);
        expect(a.experiments[REC.key]).toBe('hybrid');
        expect(a.reasons[REC.key]).toBe('targeting_match');
        expect(a.baggage[REC.baggageKey]).toBe('hybrid');
      }
      expect(service.visitorContext('user-1', [], forced).baggage[REC.baggageKey]).toBe('hybrid');
    });
  });
});

describe('lifecycle: a concluded experiment', () => {
  const file = fileOf([
    { ...REC, status: 'concluded', winner: 'hybrid', forcedVariants: { 'qa-collaborative': 'collaborative' } },
    BOOST,
  ]);
  const ids = [...sampleIds(2000), 'qa-collaborative'];
  const service = new ExperimentService(file);

  it('gives every user the winner, reason static, and nothing in baggage', () => {
    for (const id of ids) {
      const a = assign(id, file, { [REC.key]: 'control' });
      expect(a.experiments[REC.key], id).toBe('hybrid');
      expect(a.reasons[REC.key], id).toBe('static');
      expect(a.baggage, id).not.toHaveProperty([REC.baggageKey]);
      // The running experiment is unaffected.
      expect(a.baggage[BOOST.baggageKey], id).toBe(assignVariant(id, BOOST));
    }
  });

  it('is absent from the metric attributes', () => {
    const attributes = experimentMetricAttributes(file.experiments, { [REC.baggageKey]: 'hybrid', [BOOST.baggageKey]: 'control' });
    expect(attributes).toEqual({ [BOOST.baggageKey]: 'control' });
    expect(service.metricAttributes(service.assign('user-7').baggage)).not.toHaveProperty([REC.baggageKey]);
  });

  it('is absent from the ExperimentService allow-list', () => {
    expect(service.isAllowedBaggageKey(REC.baggageKey)).toBe(false);
    expect(service.isAllowedBaggageKey(BOOST.baggageKey)).toBe(true);
    expect(service.isAllowedBaggageKey(COHORT_BAGGAGE_KEY)).toBe(true);
    const context = service.visitorContext(undefined, [[REC.baggageKey, 'control'], [BOOST.baggageKey, 'control']]);
    expect(context.unverified).toEqual({ [BOOST.baggageKey]: 'control' });
  });

  it('still answers the winner through variantOf', () => {
    expect(service.variantOf(service.assign('user-7'), REC.baggageKey)).toBe('hybrid');
  });
});

describe('ExperimentService.visitorContext', () => {
  const service = new ExperimentService(shipped);
  const userId = 'user-42';
  const server = service.assign(userId);
  const serverRec = server.baggage[REC.baggageKey]!;
  const spoofed = REC.variants.find((v) => v !== serverRec)!;

  it('keeps the server value of a spoofed inbound experiment key and reports the mismatch', () => {
    const context = service.visitorContext(userId, [[REC.baggageKey, spoofed], [BOOST.baggageKey, server.baggage[BOOST.baggageKey]!]]);
    expect(context.baggage[REC.baggageKey]).toBe(serverRec);
    expect(context.baggage).toEqual(server.baggage);
    expect(context.mismatchedKeys).toEqual([REC.baggageKey]);
    expect(context.assignment).toEqual(server);
  });

  it('reports no mismatch for honest inbound baggage, or none at all', () => {
    expect(service.visitorContext(userId, Object.entries(server.baggage)).mismatchedKeys).toEqual([]);
    expect(service.visitorContext(userId, []).mismatchedKeys).toEqual([]);
  });

  it('drops unknown keys and user.id', () => {
    const context = service.visitorContext(userId, [
      ['user.id', userId],
      ['experiment.unknown', 'control'],
      ['session.id', 'abc'],
    ]);
    expect(context.baggage).toEqual(server.baggage);
    expect(context.baggage).not.toHaveProperty(['user.id']);
    expect(context.mismatchedKeys).toEqual([]);
  });

  it('without a userId believes nothing: no baggage, and only real variants kept as unverified claims', () => {
    const context = service.visitorContext(undefined, [
      [REC.baggageKey, 'collaborative'],
      [BOOST.baggageKey, 'made_up'],
      [COHORT_BAGGAGE_KEY, 'anonymous'],
      ['user.id', 'user-42'],
      ['experiment.unknown', 'control'],
    ]);
    expect(context.baggage).toEqual({});
    expect(context.unverified).toEqual({ [REC.baggageKey]: 'collaborative', [COHORT_BAGGAGE_KEY]: 'anonymous' });
    expect(context.assignment).toBeUndefined();
    expect(context.mismatchedKeys).toEqual([]);
  });

  it("applies the file's baggage.maxItems", () => {
    const inbound: [string, string][] = [[REC.baggageKey, 'control'], [BOOST.baggageKey, 'control'], [COHORT_BAGGAGE_KEY, 'registered']];
    // The schema no longer accepts a limit below running experiments + 1 …
    expect(() => parseExperimentsFile({ ...(shippedRaw as object), baggage: { maxItems: 1 } })).toThrow(
      'baggage.maxItems: expected at least 3: one per running experiment plus user.cohort',
    );
    // … but the service still applies whatever limit its file holds (built here past the schema).
    const small = new ExperimentService({ ...shipped, baggage: { maxItems: 1 } });
    expect(small.visitorContext(undefined, inbound).unverified).toEqual({ [REC.baggageKey]: 'control' });
    expect(Object.keys(small.visitorContext(userId, inbound).baggage)).toHaveLength(1);
    // The smallest limit the schema accepts, and the shipped limit of 10, leave all three entries.
    const minimal = new ExperimentService(parseExperimentsFile({ ...(shippedRaw as object), baggage: { maxItems: 3 } }));
    expect(minimal.visitorContext(undefined, inbound).unverified).toEqual(Object.fromEntries(inbound));
    expect(Object.keys(minimal.visitorContext(userId, inbound).baggage)).toHaveLength(3);
    expect(Object.keys(service.visitorContext(userId, inbound).baggage)).toHaveLength(3);
  });

  it('gives the anonymous cohort to browser-generated ids', () => {
    expect(service.visitorContext('anon-1f2e3d', []).baggage[COHORT_BAGGAGE_KEY]).toBe('anonymous');
    expect(service.visitorContext(userId, []).baggage[COHORT_BAGGAGE_KEY]).toBe('registered');
  });

  it('maps baggage keys to variants and metric attributes', () => {
    expect(service.variantOf(server, REC.baggageKey)).toBe(serverRec);
    expect(service.variantOf(server, 'experiment.unknown')).toBeUndefined();
    expect(service.metricAttributes(server.baggage)).toEqual({ [REC.baggageKey]: serverRec, [BOOST.baggageKey]: server.baggage[BOOST.baggageKey] });
    expect(service.metricAttributes({})).toEqual({ [REC.baggageKey]: 'unknown', [BOOST.baggageKey]: 'unknown' });
  });
});

describe('determinism', () => {
  const raw = {
    specVersion: 1,
    holdout: { key: 'global', share: 0.1 },
    experiments: [
      { ...REC, weights: [1, 2, 7], allocation: 0.6 },
      { ...BOOST, layer: 'rail', layerRange: [0, 0.4] },
      { key: 'rail_c', baggageKey: 'experiment.rail_c', variants: ['a', 'b'], layer: 'rail', layerRange: [0.4, 0.9] },
    ],
  };
  const ids = sampleIds(2000);

  it('gives the same assignment for the same input across calls, parses and service instances', () => {
    const first = parseExperimentsFile(raw);
    const second = parseExperimentsFile(structuredClone(raw));
    const once = ids.map((id) => assign(id, first));
    expect(ids.map((id) => assign(id, first))).toEqual(once);
    expect(ids.map((id) => assign(id, second))).toEqual(once);
    expect(ids.map((id) => new ExperimentService(second).assign(id))).toEqual(ids.map((id) => new ExperimentService(first).assign(id)));
    // Every reason occurs, so the check above covered every path.
    const reasons = new Set(once.flatMap((a) => Object.values(a.reasons)));
    expect(reasons).toEqual(new Set(['split', 'default']));
  });

  it('matches assignWeightedVariant for enrolled users of a weighted experiment', () => {
    const file = parseExperimentsFile(raw);
    for (const id of ids) {
      const a = assign(id, file);
      if (a.reasons[REC.key] === 'split') expect(a.experiments[REC.key]).toBe(assignWeightedVariant(id, file.experiments[0]!));
    }
  });
});

describe('independence of the two SPEC experiments', () => {
  it('is not rejected over 100,000 ids (contingency chi-square, (3-1)(2-1) = 2 dof, critical 13.816 at p = 0.001)', () => {
    const table = REC.variants.map(() => BOOST.variants.map(() => 0));
    for (const id of sampleIds(SAMPLE)) {
      const a = assign(id, shipped);
      table[REC.variants.indexOf(a.experiments[REC.key] as (typeof REC.variants)[number])]![
        BOOST.variants.indexOf(a.experiments[BOOST.key] as (typeof BOOST.variants)[number])
      ]! += 1;
    }
    expect(chiSquareIndependence(table)).toBeLessThan(CHI_SQUARE_CRITICAL_P001.dof2);
    // Every pair of variants occurs about as often as independence predicts (1/6 each, ±1 pp).
    for (const cell of table.flat()) expect(Math.abs(cell / SAMPLE - 1 / 6)).toBeLessThan(SHARE_TOLERANCE);
  });
});
