import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, describe, expect, it } from 'vitest';
import type { AnalysisData } from '../src/analysis/analysis-source.js';
import { ClickHouseAnalysisSource } from '../src/analysis/clickhouse/clickhouse-analysis-source.js';
import { openClickHouse } from '../src/clickhouse/clickhouse-connection.js';
import { ClickHouseWriter } from '../src/clickhouse/clickhouse-writer.js';
import { SqliteAnalysisSource } from '../src/analysis/sqlite-analysis-source.js';
import { readExperimentsFile } from '../src/config.js';
import {
  attribute,
  CLICK_CLOCK_SKEW_MS,
  CLICK_HORIZON_MS,
  clickSessionId,
  judgeClick,
  servedRequestOf,
  type Arrival,
  type ServedRequest,
} from '../src/core/request-attribution.js';
import type { SpanRecord } from '../src/core/telemetry-records.js';
import { TelemetryStore } from '../src/store/telemetry-store.js';
import { arrivalMs, ATTRIBUTION_TABLE, holdsToAttributionTable, type AttributionCase, type CaseArrival, type CaseSummary, type PopulationSummary } from './attribution-table.js';
import { hexId, tempDir } from './helpers.js';

const KEY = ATTRIBUTION_TABLE.experimentKey;
const isExperimentKey = (key: string) => key === KEY || key === 'experiment.ranking_boost' || key === 'user.cohort';
/** The cases' base time: a fixed recent instant. */
const BASE_MS = Date.UTC(2026, 11, 1, 12);
const NO_HISTORY = { hasCounted: () => false, countedClicks: () => 0, hasMismatched: () => false };

function requestAttributes(request: Extract<CaseArrival, { request: unknown }>['request']): Record<string, unknown> {
  return {
    'recommendation.request_id': request.id,
    'user.id': request.user,
    'user.cohort': 'registered',
    'recommendation.count': request.count ?? request.contentIds?.length ?? 0,
    ...(request.contentIds === undefined ? {} : { 'recommendation.content_ids': [...request.contentIds] }),
    ...(request.variant === null ? {} : { [KEY]: request.variant }),
    ...(request.forced === true ? { 'experiment.forced': true } : {}),
    ...(request.session === undefined ? {} : { 'session.id': request.session }),
  };
}

function eventAttributes(event: Extract<CaseArrival, { click: unknown }>['click']): Record<string, unknown> {
  return {
    'recommendation.request_id': event.request,
    ...(event.content === undefined ? {} : { 'content.id': event.content }),
    ...(event.session === undefined ? {} : { 'session.id': event.session }),
    ...event.claims,
  };
}

/** The pure rules, run over the case, summarised as a backend's analysis would report it. */
function reference(c: AttributionCase): CaseSummary {
  const arrivals: Arrival[] = c.arrivals.map((item) => {
    if ('request' in item) return { request: servedRequestOf(requestAttributes(item.request), arrivalMs(BASE_MS, item.request), isExperimentKey)! };
    const event = 'click' in item ? item.click : item.view;
    const attributes = eventAttributes(event);
    return {
      event: {
        requestId: event.request,
        click: 'click' in item ? { startMs: arrivalMs(BASE_MS, event), contentId: event.content, claims: attributes, sessionId: clickSessionId(attributes) } : undefined,
      },
    };
  });
  const result = attribute(arrivals);
  const summary: CaseSummary = {
    variants: Object.fromEntries(ATTRIBUTION_TABLE.variants.map((v) => [v, { users: 0, requests: 0, clicks: 0, mismatched: 0, invalid: 0, reported: 0 }])),
    unknownRequest: result.unknownRequestClicks.length,
    populations: { holdout: { users: 0, requests: 0, clicks: 0 }, forced: { users: 0, requests: 0, clicks: 0 } },
  };
  const users = new Map<string, Set<string>>();
  for (const [, { request, tally }] of result.requests) {
    const user = c.arrivals.flatMap((a) => ('request' in a && a.request.id === request.requestId ? [a.request.user] : []))[0]!;
    const group = request.population === 'experiment' ? request.variants[KEY]! : request.population;
    users.set(group, (users.get(group) ?? new Set()).add(user));
    if (request.population !== 'experiment') {
      const p: PopulationSummary = summary.populations[request.population];
      p.requests += 1;
      p.clicks += tally.clicks;
      continue;
    }
    const v = summary.variants[group]!;
    v.requests += 1;
    v.clicks += tally.clicks;
    v.mismatched += tally.mismatched;
    v.invalid += tally.invalid;
    v.reported += tally.events > 0 ? 1 : 0;
  }
  for (const [group, members] of users) {
    const target = group === 'holdout' || group === 'forced' ? summary.populations[group] : summary.variants[group]!;
    target.users = members.size;
  }
  return summary;
}

/** A case's arrivals as the spans a backend stores, in order: the server's requests (trusted) and the browser's events. */
function caseSpans(c: AttributionCase, index: number): SpanRecord[] {
  return c.arrivals.map((item, n) => {
    const traceId = hexId(index * 1000 + n + 1, 16);
    const isRequest = 'request' in item;
    const event = isRequest ? undefined : 'click' in item ? item.click : item.view;
    const startMs = isRequest ? arrivalMs(BASE_MS, item.request) : arrivalMs(BASE_MS, event!);
    const nanos = (BigInt(Math.round(startMs)) * 1_000_000n).toString();
    return {
      traceId,
      spanId: hexId(n + 1, 8),
      parentSpanId: null,
      name: isRequest ? 'recommendation.request' : 'click' in item ? 'recommendation.click' : 'recommendation.view',
      kind: isRequest ? 1 : 1,
      service: isRequest ? 'recommendation-service' : 'content-site',
      scope: 'attribution-table',
      startTimeUnixNano: nanos,
      endTimeUnixNano: nanos,
      statusCode: 0,
      statusMessage: '',
      attributes: (isRequest ? requestAttributes(item.request) : eventAttributes(event!)) as SpanRecord['attributes'],
      events: [],
      links: [],
      trusted: isRequest,
    };
  });
}

const experiment = () => readExperimentsFile(join(import.meta.dirname, '../../config/experiments.json')).experiments.find((e) => e.baggageKey === KEY)!;

/** The SQLite store: each arrival is its own write, in order; then the analysis source reads the result. */
async function sqlite(c: AttributionCase, index: number): Promise<CaseSummary> {
  const path = join(tempDir('attribution'), 'telemetry.db');
  const store = new TelemetryStore({ path, isExperimentKey, requestService: 'recommendation-service' });
  for (const span of caseSpans(c, index)) store.write([span], []);
  store.close();
  const source = new SqliteAnalysisSource(path);
  const data = await source.read(experiment(), { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER });
  await source.close();
  return summariseAnalysisData(data);
}

/**
 * ClickHouse embedded: each arrival written to the exporter's tables as the endpoint writes it
 * (one database per case); the ClickHouse source judges them at query time, order-free.
 */
let chdb: ClickHouseClient | undefined;
async function clickhouse(c: AttributionCase, index: number): Promise<CaseSummary> {
  chdb ??= openClickHouse({ url: `chdb:${tempDir('attribution-chdb')}`, database: 'otel' });
  const database = `attribution_${index}`;
  const writer = new ClickHouseWriter(chdb, database);
  await writer.ensureSchema();
  for (const span of caseSpans(c, index)) await writer.writeRecords([span], []);
  const source = new ClickHouseAnalysisSource(chdb, { database, requestService: 'recommendation-service', experimentKeys: [KEY, 'experiment.ranking_boost'] }, false);
  return summariseAnalysisData(await source.read(experiment(), { fromMs: 0, toMs: Number.MAX_SAFE_INTEGER }));
}

/** What an analysis source read, in the table's terms. */
export function summariseAnalysisData(data: AnalysisData): CaseSummary {
  const variants: CaseSummary['variants'] = {};
  for (const v of ATTRIBUTION_TABLE.variants) {
    const rows = data.users.filter((u) => u.variant === v);
    variants[v] = {
      users: rows.length,
      requests: rows.reduce((a, r) => a + r.requests, 0),
      clicks: rows.reduce((a, r) => a + r.clicks, 0),
      mismatched: data.rejected.variantMismatch[v] ?? 0,
      invalid: data.rejected.invalid?.[v] ?? 0,
      reported: data.delivery.get(v)?.reported ?? 0,
    };
  }
  const population = (p: 'holdout' | 'forced'): PopulationSummary => {
    const figures = data.populations?.[p];
    return { users: figures?.users ?? 0, requests: figures?.requests ?? 0, clicks: figures?.clicks ?? 0 };
  };
  return {
    variants,
    unknownRequest: Object.values(data.rejected.unknownRequest).reduce((a, b) => a + b, 0),
    populations: { holdout: population('holdout'), forced: population('forced') },
  };
}

describe('the attribution rules (pure)', () => {
  holdsToAttributionTable('rules', (c) => Promise.resolve(reference(c)));

  const request: ServedRequest = { requestId: 'r', startMs: 10_000_000, variants: { [KEY]: 'control' }, contentIds: ['a'], count: 1, population: 'experiment', sessionId: null };
  it('takes the click window at its documented edges', () => {
    const at = (startMs: number) => judgeClick(request, { startMs, contentId: 'a', claims: {} }, NO_HISTORY).outcome;
    expect(at(request.startMs - CLICK_CLOCK_SKEW_MS)).toBe('counted');
    expect(at(request.startMs - CLICK_CLOCK_SKEW_MS - 1)).toBe('invalid');
    expect(at(request.startMs + CLICK_HORIZON_MS)).toBe('counted');
    expect(at(request.startMs + CLICK_HORIZON_MS + 1)).toBe('invalid');
  });

  it('names the keys a forged claim contradicts', () => {
    const twoKeys: ServedRequest = { ...request, variants: { [KEY]: 'control', 'experiment.ranking_boost': 'recency_boost' } };
    const verdict = judgeClick(twoKeys, { startMs: request.startMs, contentId: 'a', claims: { [KEY]: 'control', 'experiment.ranking_boost': 'control' } }, NO_HISTORY);
    expect(verdict).toEqual({ outcome: 'mismatch', keys: ['experiment.ranking_boost'] });
  });

  it('reads a served request from the server span: holdout without variants, forced when marked', () => {
    expect(servedRequestOf({ 'recommendation.request_id': 'r', 'user.cohort': 'registered', 'recommendation.count': 3 }, 5, isExperimentKey)).toMatchObject({
      population: 'holdout',
      variants: {},
      count: 3,
      contentIds: null,
    });
    expect(servedRequestOf({ 'recommendation.request_id': 'r', [KEY]: 'hybrid', 'experiment.forced': true }, 5, isExperimentKey)?.population).toBe('forced');
    expect(servedRequestOf({ [KEY]: 'hybrid' }, 5, isExperimentKey)).toBeUndefined();
  });
});

describe('the attribution rules on the SQLite store', () => {
  holdsToAttributionTable('sqlite', sqlite);
});

describe('the attribution rules on ClickHouse (chdb)', () => {
  afterAll(async () => {
    await chdb?.close();
  });
  holdsToAttributionTable('clickhouse', clickhouse);
});
