/**
 * `npm run simulate -- --users 2000 --days 7 --effect hybrid=+8% [--seed 1] [--url …]`:
 * drives a running variant-lens server over HTTP the way many browsers would —
 * recommendation requests, viewable impressions and clicks posted as OTLP with exactly the
 * SDK's conventions — under a click model per variant with planted effects.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { seededRandom } from '../../../common/src/seeded-random.js';
import { READ_TOKEN_FILE } from '../services/read-token.js';
import { parseCommandLine } from './command-line.js';

interface Options {
  readonly url: string;
  readonly users: number;
  readonly days: number;
  readonly seed: number;
  /** Variant → relative change of its click probability, e.g. hybrid → 0.08. */
  readonly effects: Readonly<Record<string, number>>;
  readonly concurrency: number;
  /** The read token, to check planted effects against the experiments (`READ_TOKEN`, else the one `npm start` keeps in DATA_DIR). */
  readonly token: string | undefined;
}

/** Position-dependent click probability before effects: a typical rail's decay. */
const BASE_CTR_TOP = 0.08;
const POSITION_DECAY = 0.6;
/** Visits per user per day, on average. */
const VISITS_PER_DAY = 0.5;
/** Items of a rail that are seen (viewable) on a typical screen: the first four always, then less and less. */
const ALWAYS_VIEWED = 4;
const RAIL_SIZE = 8;
const SDK_SCOPE = 'variant-lens-sdk';

function parseEffects(raw: string[] | undefined): Record<string, number> {
  const effects: Record<string, number> = {};
  for (const item of raw ?? []) {
    const match = /^([A-Za-z0-9_.-]+)=([+-]?\d+(?:\.\d+)?)%$/.exec(item.trim());
    if (match === null) throw new Error(`--effect is invalid, expected <variant>=<+/-N>% (actual: ${item})`);
    effects[match[1]!] = Number(match[2]) / 100;
  }
  return effects;
}

function positiveInteger(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} is invalid, expected a positive integer (actual: ${raw})`);
  return value;
}

const USAGE = `Usage: variant-lens simulate [options]   (npm run simulate -- [options] in a clone)

Drives a running variant-lens server over HTTP the way many browsers would: recommendation
requests, then the views and clicks the SDK would report, under a click model per variant.

Options:
  --url <url>                  the server (default http://localhost:$PORT, PORT default 3000)
  --users <n>                  simulated visitors (default 2000)
  --days <n>                   days of traffic: about n/2 visits per visitor (at least one),
                               all sent now, with real timestamps (default 7)
  --seed <n>                   makes a run repeatable: the same visitors, visits and clicks (default 1)
  --effect <variant>=<+/-N>%   plant a relative change of the variant's click probability,
                               e.g. hybrid=+8%; repeat for several variants (default: none, an A/A run)
  --concurrency <n>            visitors simulated at once (default 16)

A planted effect is checked against the server's running experiments, which the read side
answers: the read token is READ_TOKEN, else the one the server keeps in DATA_DIR/read-token.
  -h, --help                   print this help`;

function options(): Options {
  const { values } = parseCommandLine('simulate', USAGE, {
    options: {
      url: { type: 'string' },
      users: { type: 'string' },
      days: { type: 'string' },
      seed: { type: 'string' },
      effect: { type: 'string', multiple: true },
      concurrency: { type: 'string' },
    },
  });
  return {
    url: (values.url ?? `http://localhost:${process.env.PORT ?? 3000}`).replace(/\/+$/, ''),
    token: readToken(),
    users: positiveInteger(values.users, 'users', 2000),
    days: positiveInteger(values.days, 'days', 7),
    seed: positiveInteger(values.seed, 'seed', 1),
    effects: parseEffects(values.effect),
    concurrency: positiveInteger(values.concurrency, 'concurrency', 16),
  };
}

/** Poisson sample (Knuth): visits are rare events per day. */
function poisson(random: () => number, mean: number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  let p = random();
  while (p > limit) {
    k += 1;
    p *= random();
  }
  return k;
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const attr = (key: string, value: string | number) =>
  typeof value === 'number' ? { key, value: { intValue: String(value) } } : { key, value: { stringValue: value } };

interface Served {
  requestId: string;
  baggage: Record<string, string>;
  trace: { traceId: string; spanId: string } | null;
  recommendations: { contentId: string; position: number }[];
}

interface Totals {
  users: number;
  requests: number;
  views: number;
  clicks: number;
  failures: number;
}

/** One visit: a rail served by the server, then what the SDK would report. */
async function visit(options: Options, userId: string, random: () => number, sessionId: string, totals: Totals): Promise<void> {
  const response = await fetch(`${options.url}/api/recommendations?userId=${encodeURIComponent(userId)}&limit=${RAIL_SIZE}`);
  if (!response.ok) {
    totals.failures += 1;
    return;
  }
  const served = (await response.json()) as Served;
  totals.requests += 1;
  const experiments = Object.fromEntries(Object.entries(served.baggage).filter(([k]) => k.startsWith('experiment.')));
  const effect = Object.values(served.baggage).reduce((m, variant) => m * (1 + (options.effects[variant] ?? 0)), 1);
  const now = BigInt(Date.now()) * 1_000_000n;
  const spans: unknown[] = [];
  let clicked = 0;
  let viewed = 0;
  for (const rec of served.recommendations) {
    const seen = rec.position <= ALWAYS_VIEWED || random() < 0.5 ** (rec.position - ALWAYS_VIEWED);
    if (!seen) continue;
    viewed += 1;
    const common = [...Object.entries(experiments).map(([k, v]) => attr(k, v)), attr('recommendation.position', rec.position), attr('content.id', rec.contentId), attr('recommendation.request_id', served.requestId)];
    spans.push({ traceId: hex(16), spanId: hex(8), name: 'recommendation.view', kind: 1, startTimeUnixNano: now.toString(), endTimeUnixNano: now.toString(), attributes: common });
    const probability = BASE_CTR_TOP * POSITION_DECAY ** (rec.position - 1) * effect;
    if (random() < probability) {
      clicked += 1;
      spans.push({
        traceId: hex(16),
        spanId: hex(8),
        name: 'recommendation.click',
        kind: 1,
        startTimeUnixNano: (now + 1_000_000n).toString(),
        endTimeUnixNano: (now + 1_000_000n).toString(),
        attributes: common,
        links: served.trace ? [{ traceId: served.trace.traceId, spanId: served.trace.spanId }] : [],
      });
    }
  }
  const resource = { attributes: [attr('service.name', 'simulated-browser'), attr('session.id', sessionId)] };
  const posts = [
    fetch(`${options.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ resource, scopeSpans: [{ scope: { name: SDK_SCOPE }, spans }] }] }),
    }),
  ];
  const points = [
    ['recommendation.viewable_impressions', viewed],
    ['recommendation.click_through', clicked],
  ] as const;
  posts.push(
    fetch(`${options.url}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        resourceMetrics: [
          {
            resource,
            scopeMetrics: [
              {
                scope: { name: SDK_SCOPE },
                metrics: points
                  .filter(([, value]) => value > 0)
                  .map(([name, value]) => ({
                    name,
                    sum: {
                      aggregationTemporality: 1,
                      isMonotonic: true,
                      dataPoints: [{ startTimeUnixNano: now.toString(), timeUnixNano: (now + 1n).toString(), asInt: String(value), attributes: Object.entries(experiments).map(([k, v]) => attr(k, v)) }],
                    },
                  })),
              },
            ],
          },
        ],
      }),
    }),
  );
  for (const result of await Promise.allSettled(posts)) {
    if (result.status === 'rejected' || !result.value.ok) totals.failures += 1;
  }
  totals.views += viewed;
  totals.clicks += clicked;
}

function progress(done: number, total: number, totals: Totals, started: number): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  const seconds = (Date.now() - started) / 1000;
  process.stderr.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total} users · ${totals.requests} requests · ${totals.clicks} clicks · ${(totals.requests / Math.max(seconds, 0.001)).toFixed(0)} req/s `);
}

function readToken(): string | undefined {
  if (process.env.READ_TOKEN) return process.env.READ_TOKEN;
  const kept = join(process.env.DATA_DIR || './data', READ_TOKEN_FILE);
  return existsSync(kept) ? readFileSync(kept, 'utf8').trim() : undefined;
}

/** A planted effect must name a variant of a running experiment: a typo would quietly make an A/A run. */
async function checkEffects(opts: Options): Promise<void> {
  if (Object.keys(opts.effects).length === 0) return;
  const response = await fetch(`${opts.url}/api/experiments`, { headers: opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` } });
  if (response.status === 401) {
    throw new Error(`--effect is checked against the running experiments, which need the read token: set READ_TOKEN (the server's, or the one it keeps in DATA_DIR/read-token)`);
  }
  const { experiments } = (await response.json()) as { experiments: { status: string; variants: string[] }[] };
  const variants = new Set(experiments.filter((e) => e.status === 'running').flatMap((e) => e.variants));
  for (const variant of Object.keys(opts.effects)) {
    if (!variants.has(variant)) throw new Error(`--effect names ${variant}, which is no variant of a running experiment (variants: ${[...variants].join(', ')})`);
  }
}

async function main(): Promise<void> {
  const opts = options();
  const health = await fetch(`${opts.url}/healthz`).catch(() => undefined);
  if (health?.ok !== true) throw new Error(`no variant-lens server answers at ${opts.url}; start it with npm start, or pass --url`);
  await checkEffects(opts);
  const random = seededRandom(opts.seed);
  const plan = Array.from({ length: opts.users }, (_, i) => ({
    userId: `sim${opts.seed}-${String(i + 1).padStart(6, '0')}`,
    visits: Math.max(1, poisson(random, VISITS_PER_DAY * opts.days)),
    seed: Math.floor(random() * 2 ** 32),
  }));
  const totals: Totals = { users: 0, requests: 0, views: 0, clicks: 0, failures: 0 };
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < plan.length) {
      const user = plan[next++]!;
      const userRandom = seededRandom(user.seed);
      const sessionId = hex(16);
      for (let v = 0; v < user.visits; v += 1) await visit(opts, user.userId, userRandom, sessionId, totals);
      totals.users += 1;
      if (totals.users % 25 === 0 || totals.users === plan.length) progress(totals.users, plan.length, totals, started);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  process.stderr.write('\n');
  const seconds = (Date.now() - started) / 1000;
  const planted = Object.entries(opts.effects).map(([variant, effect]) => `${variant} ${effect >= 0 ? '+' : ''}${(effect * 100).toFixed(1)}%`);
  console.log(`Simulated ${totals.users} users over ${opts.days} days (seed ${opts.seed}) in ${seconds.toFixed(1)} s (${((totals.users / seconds) * 60).toFixed(0)} users/min):`);
  console.log(`  ${totals.requests} recommendation requests, ${totals.views} viewable impressions, ${totals.clicks} clicks${totals.failures > 0 ? `, ${totals.failures} failed calls` : ''}`);
  console.log(`  planted effects: ${planted.length > 0 ? planted.join(', ') : 'none (an A/A run)'}`);
  console.log(`  click model: ${BASE_CTR_TOP * 100}% at position 1, ×${POSITION_DECAY} per position below`);
  console.log(`Results: ${opts.url}/dashboard`);
}

main().catch((error: unknown) => {
  process.stderr.write('\n');
  console.error((error as Error).message);
  process.exit(1);
});
