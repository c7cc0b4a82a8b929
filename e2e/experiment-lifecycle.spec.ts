import { expect, test } from '@playwright/test';

const concluded = process.env.E2E_CONCLUDED_URL!;

test('a concluded experiment gives its winner and disappears from baggage', async ({ page, request: api }) => {
  const userId = `e2e-concluded-${Date.now()}`;
  const served = page.waitForResponse((r) => r.url().includes('/api/recommendations'));
  await page.goto(`${concluded}/?user=${userId}`);
  const body = (await (await served).json()) as { experiments: Record<string, string>; baggage: Record<string, string> };
  expect(body.experiments['rec_algorithm_v3']).toBe('hybrid');
  expect(body.baggage['experiment.rec_algorithm']).toBeUndefined();
  expect(body.baggage['experiment.ranking_boost']).toMatch(/^(control|recency_boost)$/);

  const first = page.locator('[data-rec-content-id]').first();
  const article = page.waitForRequest((r) => r.url().includes('/api/content/'));
  await first.click();
  const request = await article;
  const baggage = request.headers()['baggage'] ?? '';
  expect(baggage).toContain('experiment.ranking_boost=');
  expect(baggage).not.toContain('experiment.rec_algorithm');

  // Spoofing the concluded key from the browser does not bring it back onto server spans.
  const traceId = 'abcdefabcdefabcdefabcdefabcdef12';
  await api.get(`${concluded}/api/content/a00001?userId=${userId}`, {
    headers: { traceparent: `00-${traceId}-1234567812345678-01`, baggage: 'experiment.rec_algorithm=control' },
  });
  await expect.poll(async () => (await api.get(`${concluded}/api/traces/${traceId}`)).status()).toBe(200);
  const { spans } = (await (await api.get(`${concluded}/api/traces/${traceId}`)).json()) as { spans: { attributes: Record<string, unknown> }[] };
  for (const span of spans) expect(span.attributes['experiment.rec_algorithm']).toBeUndefined();
});
