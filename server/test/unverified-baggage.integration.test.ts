/**
 * Issue 16, finding 5: a request that names no visitor has no assignment behind it, so the
 * browser's baggage on it must not reach trusted spans as experiment attributes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDemo as RunningServer } from '../src/demo/index.js';
import { readAuth, startTestServer } from './helpers.js';

let server: RunningServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server.close();
});

async function traceOf(traceId: string): Promise<any[]> {
  await server.flush();
  const response = await fetch(`${server.url}/api/traces/${traceId}`, { headers: readAuth });
  expect(response.status).toBe(200);
  return ((await response.json()) as { spans: any[] }).spans;
}

describe('requests without a visitor', () => {
  it('put none of the browser\'s baggage on trusted spans and mark them unverified', async () => {
    const { recommendations } = (await (await fetch(`${server.url}/api/recommendations?userId=erin`)).json()) as any;
    const traceId = '44444444444444444444444444444444';
    const response = await fetch(`${server.url}/api/content/${recommendations[0].contentId}`, {
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, baggage: 'experiment.rec_algorithm=hybrid,experiment.ranking_boost=made_up' },
    });
    expect(response.status).toBe(200);
    const spans = await traceOf(traceId);
    expect(spans.length).toBeGreaterThan(1);
    for (const span of spans) {
      expect(span.trusted, span.name).toBe(true);
      expect(Object.keys(span.attributes).filter((key) => key.startsWith('experiment.')), span.name).toEqual([]);
      expect(span.attributes['variant_lens.unverified'], span.name).toBe(true);
    }
    // The claim is kept for debugging on the server span only, and only when it names a real variant.
    const serverSpan = spans.find((s) => s.kind === 2);
    expect(serverSpan.attributes['variant_lens.unverified.baggage']).toEqual(['experiment.rec_algorithm=hybrid']);
  });

  it('keep the per-variant figures free of them', async () => {
    for (let i = 0; i < 5; i += 1) {
      await fetch(`${server.url}/api/content/a00001`, { headers: { baggage: 'experiment.rec_algorithm=hybrid' } });
    }
    await server.flush();
    const results = (await (await fetch(`${server.url}/api/experiments/rec_algorithm_v3/results`, { headers: readAuth })).json()) as any;
    const hybrid = results.variants.find((v: any) => v.variant === 'hybrid');
    expect(hybrid.downstream?.['SELECT articles'] ?? undefined).toBeUndefined();
  });
});
