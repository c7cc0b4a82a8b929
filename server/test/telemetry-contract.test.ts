/** docs/telemetry-contract.md: its OTLP/JSON example, posted with a service token, is counted. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { loadExperiments } from '../src/node/index.js';
import { startServer, type RunningServer } from '../src/server.js';
import { otlpSpan, otlpTraces, readAuth, TEST_READ_TOKEN, tempDir } from './helpers.js';

const TOKEN = 'contract-service-token-0123456789';
const doc = readFileSync(join(import.meta.dirname, '../../docs/telemetry-contract.md'), 'utf8');
const example = JSON.parse(/```json\n([\s\S]*?)\n```/.exec(doc)![1]!);
const span = example.resourceSpans[0].scopeSpans[0].spans[0];
const attribute = (key: string) => span.attributes.find((a: any) => a.key === key).value;

let server: RunningServer;

beforeAll(async () => {
  const config = loadConfig({ PORT: '0', DATA_DIR: tempDir('contract'), EXPERIMENTS_FILE: 'config/experiments.json', SERVICE_TOKENS: TOKEN, METRIC_INTERVAL_MS: '100000', READ_TOKEN: TEST_READ_TOKEN, RETENTION_MAX_AGE_HOURS: '0' }, { demo: false });
  server = await startServer(config);
});

afterAll(async () => {
  await server.close();
});

async function post(body: unknown, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return response.status;
}

it('is consistent with the server\'s own assignment of its visitor', () => {
  const assigned = loadExperiments('config/experiments.json').assign(attribute('user.id').stringValue);
  expect(assigned.baggage).toMatchObject({ 'experiment.rec_algorithm': attribute('experiment.rec_algorithm').stringValue, 'experiment.ranking_boost': attribute('experiment.ranking_boost').stringValue });
});

it('counts the example request, and a browser click on its second item once, for hybrid', async () => {
  // The example's times, moved to now: what a service exports is recent.
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const shift = nowNs - BigInt(span.startTimeUnixNano);
  span.startTimeUnixNano = String(BigInt(span.startTimeUnixNano) + shift);
  span.endTimeUnixNano = String(BigInt(span.endTimeUnixNano) + shift);
  for (const event of span.events) event.timeUnixNano = String(BigInt(event.timeUnixNano) + shift);
  expect(await post(example, { authorization: `Bearer ${TOKEN}` })).toBe(200);

  const click = otlpSpan('7'.repeat(32), '7'.repeat(16), {
    'experiment.rec_algorithm': 'hybrid',
    'recommendation.request_id': attribute('recommendation.request_id').stringValue,
    'content.id': 'a102',
    'recommendation.position': 2,
  });
  click.startTimeUnixNano = String(nowNs + 1_000_000_000n);
  click.endTimeUnixNano = String(nowNs + 1_001_000_000n);
  expect(await post(otlpTraces([click, { ...click, spanId: '8'.repeat(16) }]))).toBe(200);
  await server.ingestPool.drain();

  const results = (await (await fetch(`${server.url}/api/experiments/rec_algorithm_v3/results`, { headers: readAuth })).json()) as any;
  const hybrid = results.variants.find((v: any) => v.variant === 'hybrid');
  expect(hybrid).toMatchObject({ users: 1, requests: 1, impressions: 3, clicks: 1 });
  const { spans } = (await (await fetch(`${server.url}/api/traces/${span.traceId}`, { headers: readAuth })).json()) as any;
  expect(spans[0]).toMatchObject({ service: 'recs-python', trusted: true });
});
