/**
 * The experiments file (`EXPERIMENTS_FILE`, default `config/experiments.json`): its schema,
 * and errors that name the experiment and the field.
 */
import { z } from 'zod';
import { FORBIDDEN_KEYS } from '../../../common/src/baggage-guard.js';

/** Version of the file format this code reads. */
export const EXPERIMENTS_SPEC_VERSION = 1;

const KEY = /^[a-z0-9_][a-z0-9_.-]{0,62}$/;
const BAGGAGE_KEY = /^[a-z0-9_][a-z0-9_.-]{0,62}$/;
const VARIANT = /^[A-Za-z0-9_.-]{1,64}$/;

const experimentSchema = z
  .object({
    key: z.string().regex(KEY, 'expected lower-case letters, digits, _ . or -'),
    baggageKey: z.string().regex(BAGGAGE_KEY, 'expected lower-case letters, digits, _ . or -'),
    variants: z.array(z.string().regex(VARIANT, 'expected letters, digits, _ . or -')).min(2, 'expected at least 2 variants'),
    weights: z.array(z.number().positive('expected positive numbers')).optional(),
    allocation: z.number().gt(0, 'expected a share in (0, 1]').max(1, 'expected a share in (0, 1]').default(1),
    status: z.enum(['running', 'concluded']).default('running'),
    winner: z.string().optional(),
    description: z.string().default(''),
    owner: z.string().default(''),
    startDate: z.iso.date('expected a date as YYYY-MM-DD').optional(),
    layer: z.string().regex(KEY, 'expected lower-case letters, digits, _ . or -').optional(),
    /** The experiment's fixed slice [start, end) of its layer's traffic. */
    layerRange: z.tuple([z.number().min(0), z.number().max(1)]).optional(),
    forcedVariants: z.record(z.string().min(1), z.string()).default({}),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (new Set(e.variants).size !== e.variants.length) ctx.addIssue({ code: 'custom', path: ['variants'], message: 'variants must be unique' });
    if (e.weights !== undefined && e.weights.length !== e.variants.length) {
      ctx.addIssue({ code: 'custom', path: ['weights'], message: `expected ${e.variants.length} weights, one per variant` });
    }
    if (e.status === 'concluded' && (e.winner === undefined || !e.variants.includes(e.winner))) {
      ctx.addIssue({ code: 'custom', path: ['winner'], message: 'a concluded experiment needs a winner that is one of its variants' });
    }
    if (e.status === 'running' && e.winner !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['winner'], message: 'only a concluded experiment has a winner' });
    }
    if (e.layer !== undefined) {
      if (e.layerRange === undefined) {
        ctx.addIssue({ code: 'custom', path: ['layerRange'], message: 'an experiment in a layer needs its [start, end) slice of the layer' });
      } else if (!(e.layerRange[0] < e.layerRange[1])) {
        ctx.addIssue({ code: 'custom', path: ['layerRange'], message: 'expected start < end within [0, 1]' });
      }
    } else if (e.layerRange !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['layerRange'], message: 'only an experiment with a layer has a layerRange' });
    }
    for (const [userId, variant] of Object.entries(e.forcedVariants)) {
      if (!e.variants.includes(variant)) {
        ctx.addIssue({ code: 'custom', path: ['forcedVariants', userId], message: `${variant} is not a variant of this experiment` });
      }
    }
  });

const fileSchema = z
  .object({
    specVersion: z.literal(EXPERIMENTS_SPEC_VERSION),
    baggage: z.object({ maxItems: z.number().int().min(1).max(64).default(10) }).strict().default({ maxItems: 10 }),
    allowForcedVariantQuery: z.boolean().default(false),
    holdout: z
      .object({ key: z.string().regex(KEY), share: z.number().min(0).max(0.5, 'expected at most 0.5') })
      .strict()
      .optional(),
    experiments: z.array(experimentSchema).min(1, 'expected at least one experiment'),
  })
  .strict()
  .superRefine((file, ctx) => {
    const keys = new Set<string>();
    const baggageKeys = new Set<string>();
    file.experiments.forEach((e, i) => {
      if (keys.has(e.key)) ctx.addIssue({ code: 'custom', path: ['experiments', i, 'key'], message: `duplicate key ${e.key}` });
      if (baggageKeys.has(e.baggageKey)) ctx.addIssue({ code: 'custom', path: ['experiments', i, 'baggageKey'], message: `duplicate baggage key ${e.baggageKey}` });
      if (FORBIDDEN_KEYS.has(e.baggageKey) || e.baggageKey === 'user.cohort') {
        ctx.addIssue({ code: 'custom', path: ['experiments', i, 'baggageKey'], message: `${e.baggageKey} is reserved` });
      }
      keys.add(e.key);
      baggageKeys.add(e.baggageKey);
    });
    // Slices of one layer may not overlap, concluded experiments included, so that a slice
    // is never handed to a new experiment while its old visitors could still be attributed.
    file.experiments.forEach((e, i) => {
      if (e.layer === undefined || e.layerRange === undefined) return;
      const clash = file.experiments.find(
        (o, j) => j < i && o.layer === e.layer && o.layerRange !== undefined && o.layerRange[0] < e.layerRange![1] && e.layerRange![0] < o.layerRange[1],
      );
      if (clash !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['experiments', i, 'layerRange'], message: `overlaps the slice of ${clash.key} in layer ${e.layer}` });
      }
    });
    const running = file.experiments.filter((e) => e.status === 'running').length;
    if (file.baggage.maxItems < running + 1) {
      ctx.addIssue({ code: 'custom', path: ['baggage', 'maxItems'], message: `expected at least ${running + 1}: one per running experiment plus user.cohort` });
    }
  });

/** One experiment as read from the file, defaults filled in. */
export type ExperimentDefinition = Readonly<z.output<typeof experimentSchema>>;
/** The whole experiments file, defaults filled in. */
export type ExperimentsFile = Readonly<z.output<typeof fileSchema>>;

/** A file that does not follow the schema; the message names the experiment and field. */
export class ExperimentsFileError extends Error {}

function describePath(path: readonly PropertyKey[], raw: unknown): string {
  if (path[0] === 'experiments' && typeof path[1] === 'number') {
    const list = (raw as { experiments?: { key?: unknown }[] }).experiments;
    const key = list?.[path[1]]?.key;
    const name = typeof key === 'string' ? `experiment "${key}"` : `experiments[${path[1]}]`;
    const field = path.slice(2).join('.');
    return field === '' ? name : `${name}: ${field}`;
  }
  return path.length === 0 ? '(file)' : path.join('.');
}

/** Validates parsed JSON; throws `ExperimentsFileError` listing every problem. */
export function parseExperimentsFile(raw: unknown, source = 'experiments file'): ExperimentsFile {
  const result = fileSchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `  ${describePath(issue.path, raw)}: ${issue.message}`);
  throw new ExperimentsFileError(`${source} is invalid:\n${problems.join('\n')}`);
}
