import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FORBIDDEN_KEYS } from '../../common/src/baggage-guard.js';
import { EXPERIMENTS_SPEC_VERSION, ExperimentsFileError, parseExperimentsFile } from '../src/core/experiment-config.js';

const SHIPPED_FILE = new URL('../../config/experiments.json', import.meta.url);

/** A valid file with the two SPEC experiments, to be broken one field at a time. */
function validFile(): any {
  return {
    specVersion: EXPERIMENTS_SPEC_VERSION,
    experiments: [
      { key: 'rec_algorithm_v3', baggageKey: 'experiment.rec_algorithm', variants: ['control', 'collaborative', 'hybrid'] },
      { key: 'ranking_boost_v2', baggageKey: 'experiment.ranking_boost', variants: ['control', 'recency_boost'] },
    ],
  };
}

/** `validFile()` with the first experiment's fields overridden. */
function withRec(fields: Record<string, unknown>): any {
  const file = validFile();
  file.experiments[0] = { ...file.experiments[0], ...fields };
  return file;
}

/** `validFile()` with the second experiment's fields overridden. */
function withBoost(fields: Record<string, unknown>): any {
  const file = validFile();
  file.experiments[1] = { ...file.experiments[1], ...fields };
  return file;
}

/** A two-variant experiment `key` in layer `layer` with the slice `layerRange`, plus `fields`. */
function inLayer(key: string, layer: string, layerRange: unknown, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { key, baggageKey: `experiment.${key}`, variants: ['x', 'y'], layer, layerRange, ...fields };
}

/** A file holding exactly `experiments`. */
function fileWith(...experiments: readonly Record<string, unknown>[]): any {
  return { ...validFile(), experiments };
}

/** The message of the `ExperimentsFileError` that parsing `raw` throws. */
function errorOf(raw: unknown, source?: string): string {
  try {
    parseExperimentsFile(raw, source);
  } catch (error) {
    expect(error).toBeInstanceOf(ExperimentsFileError);
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(raw)} to be rejected`);
}

describe('the shipped config/experiments.json', () => {
  const file = parseExperimentsFile(JSON.parse(readFileSync(SHIPPED_FILE, 'utf8')), 'config/experiments.json');

  it('parses and holds the two SPEC experiments with their baggage keys and variants, in order', () => {
    expect(file.specVersion).toBe(EXPERIMENTS_SPEC_VERSION);
    expect(file.experiments.map((e) => [e.key, e.baggageKey, e.variants])).toEqual([
      ['rec_algorithm_v3', 'experiment.rec_algorithm', ['control', 'collaborative', 'hybrid']],
      ['ranking_boost_v2', 'experiment.ranking_boost', ['control', 'recency_boost']],
    ]);
  });

  it('runs both experiments on all traffic with equal weights, so the SPEC default assignment applies', () => {
    for (const e of file.experiments) {
      expect(e.status, e.key).toBe('running');
      expect(e.allocation, e.key).toBe(1);
      expect(e.weights, e.key).toBeUndefined();
      expect(e.winner, e.key).toBeUndefined();
      expect(e.layer, e.key).toBeUndefined();
      expect(e.layerRange, e.key).toBeUndefined();
    }
    expect(file.holdout).toBeUndefined();
  });

  it('does not let browsers force variants, and keeps baggage within ten items', () => {
    expect(file.allowForcedVariantQuery).toBe(false);
    expect(file.baggage.maxItems).toBe(10);
  });
});

describe('defaults', () => {
  const file = parseExperimentsFile(validFile());

  it('fill every optional experiment field', () => {
    for (const e of file.experiments) {
      expect(e, e.key).toMatchObject({ allocation: 1, status: 'running', forcedVariants: {}, description: '', owner: '' });
      expect(e.weights, e.key).toBeUndefined();
      expect(e.startDate, e.key).toBeUndefined();
    }
  });

  it('fill the file-level options', () => {
    expect(file.baggage).toEqual({ maxItems: 10 });
    expect(file.allowForcedVariantQuery).toBe(false);
    expect(file.holdout).toBeUndefined();
  });

  it('fill baggage.maxItems when the baggage object is present but empty', () => {
    expect(parseExperimentsFile({ ...validFile(), baggage: {} }).baggage).toEqual({ maxItems: 10 });
  });

  it('do not override what the file says', () => {
    const parsed = parseExperimentsFile({
      ...withRec({ allocation: 0.25, weights: [1, 2, 7], startDate: '2026-11-01', forcedVariants: { 'qa-1': 'hybrid' } }),
      baggage: { maxItems: 3 },
      allowForcedVariantQuery: true,
      holdout: { key: 'global', share: 0.05 },
    });
    expect(parsed.experiments[0]).toMatchObject({ allocation: 0.25, weights: [1, 2, 7], startDate: '2026-11-01', forcedVariants: { 'qa-1': 'hybrid' } });
    expect(parsed.baggage.maxItems).toBe(3);
    expect(parsed.allowForcedVariantQuery).toBe(true);
    expect(parsed.holdout).toEqual({ key: 'global', share: 0.05 });
  });
});

describe('valid edge cases', () => {
  it.each<[string, unknown]>([
    ['allocation exactly 1', withRec({ allocation: 1 })],
    ['a tiny allocation', withRec({ allocation: 0.001 })],
    ['a concluded experiment whose winner is a variant', withRec({ status: 'concluded', winner: 'hybrid' })],
    ['holdout share exactly 0.5', { ...validFile(), holdout: { key: 'global', share: 0.5 } }],
    ['holdout share 0', { ...validFile(), holdout: { key: 'global', share: 0 } }],
    ['slices that tile a layer exactly, touching end to start', fileWith(
      inLayer('a', 'rail', [0, 0.1]),
      inLayer('b', 'rail', [0.1, 0.3]),
      inLayer('c', 'rail', [0.3, 1]),
    )],
    ['slices listed out of order, with free space between them', fileWith(
      inLayer('a', 'rail', [0.7, 0.9]),
      inLayer('b', 'rail', [0, 0.2]),
      inLayer('c', 'rail', [0.3, 0.5]),
    )],
    ['one slice that is the whole layer', fileWith(inLayer('a', 'rail', [0, 1]))],
    ['a concluded and a running experiment with disjoint slices', fileWith(
      inLayer('a', 'rail', [0, 0.5], { status: 'concluded', winner: 'y' }),
      inLayer('b', 'rail', [0.5, 1]),
    )],
    ['the same slice in two different layers', fileWith(
      inLayer('a', 'rail', [0, 0.6]),
      inLayer('b', 'hero', [0, 0.6]),
    )],
    ['a tiny slice', fileWith(inLayer('a', 'rail', [0.5, 0.501]))],
    ['baggage.maxItems exactly running experiments + 1', { ...validFile(), baggage: { maxItems: 3 } }],
    ['baggage.maxItems not counting concluded experiments', {
      ...withRec({ status: 'concluded', winner: 'hybrid' }),
      baggage: { maxItems: 2 },
    }],
    ['equal explicit weights', withRec({ weights: [2, 2, 2] })],
  ])('accepts %s', (_label, raw) => {
    expect(() => parseExperimentsFile(raw)).not.toThrow();
  });
});

describe('bad experiments files', () => {
  it.each<[string, unknown, readonly (string | RegExp)[]]>([
    ['fewer than 2 variants', withRec({ variants: ['control'] }),
      ['experiment "rec_algorithm_v3": variants: expected at least 2 variants']],
    ['duplicate variants', withBoost({ variants: ['control', 'control'] }),
      ['experiment "ranking_boost_v2": variants: variants must be unique']],
    ['fewer weights than variants', withRec({ weights: [0.5, 0.5] }),
      ['experiment "rec_algorithm_v3": weights: expected 3 weights, one per variant']],
    ['more weights than variants', withBoost({ weights: [1, 1, 1] }),
      ['experiment "ranking_boost_v2": weights: expected 2 weights, one per variant']],
    ['a negative weight', withRec({ weights: [1, -1, 1] }),
      ['experiment "rec_algorithm_v3": weights.1: expected positive numbers']],
    ['a zero weight', withBoost({ weights: [1, 0] }),
      ['experiment "ranking_boost_v2": weights.1: expected positive numbers']],
    ['allocation 0', withRec({ allocation: 0 }),
      ['experiment "rec_algorithm_v3": allocation: expected a share in (0, 1]']],
    ['allocation 1.5', withRec({ allocation: 1.5 }),
      ['experiment "rec_algorithm_v3": allocation: expected a share in (0, 1]']],
    ['a negative allocation', withBoost({ allocation: -0.2 }),
      ['experiment "ranking_boost_v2": allocation: expected a share in (0, 1]']],
    ['concluded without a winner', withRec({ status: 'concluded' }),
      ['experiment "rec_algorithm_v3": winner: a concluded experiment needs a winner that is one of its variants']],
    ['concluded with a winner that is not a variant', withRec({ status: 'concluded', winner: 'neural' }),
      ['experiment "rec_algorithm_v3": winner: a concluded experiment needs a winner that is one of its variants']],
    ['running with a winner', withBoost({ winner: 'recency_boost' }),
      ['experiment "ranking_boost_v2": winner: only a concluded experiment has a winner']],
    ['an unknown status', withBoost({ status: 'paused' }),
      ['experiment "ranking_boost_v2": status:']],
    ['forcedVariants naming an unknown variant', withRec({ forcedVariants: { 'qa-hybrid': 'hybrid', 'qa-neural': 'neural' } }),
      ['experiment "rec_algorithm_v3": forcedVariants.qa-neural: neural is not a variant of this experiment']],
    ['a duplicate experiment key', withBoost({ key: 'rec_algorithm_v3' }),
      ['experiment "rec_algorithm_v3": key: duplicate key rec_algorithm_v3']],
    ['a duplicate baggage key', withBoost({ baggageKey: 'experiment.rec_algorithm' }),
      ['experiment "ranking_boost_v2": baggageKey: duplicate baggage key experiment.rec_algorithm']],
    ['baggageKey user.id', withRec({ baggageKey: 'user.id' }),
      ['experiment "rec_algorithm_v3": baggageKey: user.id is reserved']],
    ['baggageKey user.email', withBoost({ baggageKey: 'user.email' }),
      ['experiment "ranking_boost_v2": baggageKey: user.email is reserved']],
    ['baggageKey user.name', withRec({ baggageKey: 'user.name' }),
      ['experiment "rec_algorithm_v3": baggageKey: user.name is reserved']],
    ['baggageKey enduser.id', withBoost({ baggageKey: 'enduser.id' }),
      ['experiment "ranking_boost_v2": baggageKey: enduser.id is reserved']],
    ['baggageKey user.cohort', withBoost({ baggageKey: 'user.cohort' }),
      ['experiment "ranking_boost_v2": baggageKey: user.cohort is reserved']],
    ['a baggage key with upper-case letters', withBoost({ baggageKey: 'Experiment.Boost' }),
      ['experiment "ranking_boost_v2": baggageKey: expected lower-case letters']],
    ['a variant name with a space', withBoost({ variants: ['control', 'recency boost'] }),
      ['experiment "ranking_boost_v2": variants.1: expected letters, digits']],
    ['an unknown experiment field (strict)', withRec({ weight: [1, 2, 3] }),
      [/experiment "rec_algorithm_v3": .*"weight"/]],
    ['an unknown top-level field (strict)', { ...validFile(), experimentz: [] },
      [/\(file\): .*"experimentz"/]],
    ['a startDate that is no date', withRec({ startDate: '2026-13-01' }),
      ['experiment "rec_algorithm_v3": startDate: expected a date as YYYY-MM-DD']],
    ['a startDate in another format', withBoost({ startDate: '01/11/2026' }),
      ['experiment "ranking_boost_v2": startDate: expected a date as YYYY-MM-DD']],
    ['a wrong specVersion', { ...validFile(), specVersion: 2 },
      [/^ {2}specVersion: /m]],
    ['no specVersion', { experiments: validFile().experiments },
      [/^ {2}specVersion: /m]],
    ['no experiments', { ...validFile(), experiments: [] },
      ['experiments: expected at least one experiment']],
    ['overlapping slices of one layer', fileWith(
      inLayer('a', 'rail', [0, 0.6]),
      inLayer('b', 'rail', [0.5, 1]),
      inLayer('c', 'other', [0, 0.6]),
    ), ['experiment "b": layerRange: overlaps the slice of a in layer rail']],
    ['a slice inside another slice of the layer', fileWith(
      inLayer('a', 'rail', [0.2, 0.8]),
      inLayer('b', 'rail', [0.4, 0.5]),
    ), ['experiment "b": layerRange: overlaps the slice of a in layer rail']],
    ['a slice overlapping a concluded experiment\'s slice', fileWith(
      inLayer('a', 'rail', [0, 0.5], { status: 'concluded', winner: 'y' }),
      inLayer('b', 'rail', [0.4, 0.9]),
    ), ['experiment "b": layerRange: overlaps the slice of a in layer rail']],
    ['an experiment in a layer without a layerRange', fileWith(
      { key: 'a', baggageKey: 'experiment.a', variants: ['x', 'y'], layer: 'rail', allocation: 0.5 },
    ), ['experiment "a": layerRange: an experiment in a layer needs its [start, end) slice of the layer']],
    ['an empty slice (start = end)', fileWith(inLayer('a', 'rail', [0.5, 0.5])),
      ['experiment "a": layerRange: expected start < end within [0, 1]']],
    ['a reversed slice (start > end)', fileWith(inLayer('a', 'rail', [0.8, 0.2])),
      ['experiment "a": layerRange: expected start < end within [0, 1]']],
    ['a slice starting below 0', fileWith(inLayer('a', 'rail', [-0.1, 0.5])),
      [/experiment "a": layerRange\.0: /]],
    ['a slice ending above 1', fileWith(inLayer('a', 'rail', [0.5, 1.5])),
      [/experiment "a": layerRange\.1: /]],
    ['a layerRange without a layer', withRec({ layerRange: [0, 0.5] }),
      ['experiment "rec_algorithm_v3": layerRange: only an experiment with a layer has a layerRange']],
    ['holdout share above 0.5', { ...validFile(), holdout: { key: 'global', share: 0.6 } },
      ['holdout.share: expected at most 0.5']],
    ['a negative holdout share', { ...validFile(), holdout: { key: 'global', share: -0.1 } },
      [/^ {2}holdout\.share: /m]],
    ['baggage.maxItems 0', { ...validFile(), baggage: { maxItems: 0 } },
      [/^ {2}baggage\.maxItems: /m]],
    ['baggage.maxItems below running experiments + 1', { ...validFile(), baggage: { maxItems: 2 } },
      ['baggage.maxItems: expected at least 3: one per running experiment plus user.cohort']],
    ['baggage.maxItems 1 with two running experiments', { ...validFile(), baggage: { maxItems: 1 } },
      ['baggage.maxItems: expected at least 3: one per running experiment plus user.cohort']],
  ])('rejects %s, naming the experiment and field', (_label, raw, expected) => {
    const message = errorOf(raw);
    for (const part of expected) {
      if (typeof part === 'string') expect(message).toContain(part);
      else expect(message).toMatch(part);
    }
  });

  it('reserves every key the baggage guard forbids, and user.cohort, as a baggageKey', () => {
    expect([...FORBIDDEN_KEYS]).toEqual(expect.arrayContaining(['user.id', 'user.email', 'user.name', 'enduser.id']));
    for (const key of [...FORBIDDEN_KEYS, 'user.cohort']) {
      expect(errorOf(withBoost({ baggageKey: key })), key).toContain(`experiment "ranking_boost_v2": baggageKey: ${key} is reserved`);
    }
  });

  it('does not blame the other, valid experiment', () => {
    const message = errorOf(withRec({ weights: [1, 1] }));
    expect(message).not.toContain('ranking_boost_v2');
  });

  it('names an experiment without a valid key by its index', () => {
    const noKey = validFile();
    delete noKey.experiments[1].key;
    expect(errorOf(noKey)).toContain('experiments[1]: key:');

    const numericKey = withBoost({ key: 7, variants: ['control'] });
    const message = errorOf(numericKey);
    expect(message).toContain('experiments[1]: key:');
    expect(message).toContain('experiments[1]: variants: expected at least 2 variants');
  });

  it('names the source and lists every problem, one per line', () => {
    const message = errorOf({ ...withRec({ allocation: 0 }), holdout: { key: 'global', share: 0.9 } }, 'config/staging.json');
    expect(message.split('\n')[0]).toBe('config/staging.json is invalid:');
    expect(message).toContain('\n  experiment "rec_algorithm_v3": allocation: expected a share in (0, 1]');
    expect(message).toContain('\n  holdout.share: expected at most 0.5');
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['an array', []],
    ['a string', 'experiments'],
    ['an empty object', {}],
  ])('rejects %s as a whole file with an ExperimentsFileError', (_label, raw) => {
    expect(errorOf(raw)).toMatch(/^experiments file is invalid:\n/);
  });
});
