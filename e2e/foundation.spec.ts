import { expect, test, type APIRequestContext, type Request } from '@playwright/test';

interface StoredSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  kind: number;
  service: string;
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string }[];
}

interface StoredPoint {
  value: number | null;
  attributes: Record<string, unknown>;
}

const SERVER_KIND = 2;

function traceIdOf(request: Request): string {
  const traceparent = request.headers()['traceparent'];
  expect(traceparent, `${request.url()} carried no traceparent`).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  return traceparent!.split('-')[1]!;
}

async function trace(api: APIRequestContext, traceId: string): Promise<StoredSpan[]> {
  const response = await api.get(`/api/traces/${traceId}`);
  if (response.status() === 404) return [];
  expect(response.ok()).toBe(true);
  return ((await response.json()) as { spans: StoredSpan[] }).spans;
}

async function clicksFor(api: APIRequestContext, requestId: string): Promise<StoredSpan[]> {
  const response = await api.get(`/api/spans?name=recommendation.click&requestId=${encodeURIComponent(requestId)}`);
  return ((await response.json()) as { spans: StoredSpan[] }).spans;
}

async function clickThroughPoints(api: APIRequestContext): Promise<StoredPoint[]> {
  const response = await api.get('/api/metrics/recommendation.click_through');
  return ((await response.json()) as { points: StoredPoint[] }).points;
}

test('a visitor clicks a recommendation and the whole loop is in the store', async ({ page, request: api }) => {
  const userId = `e2e-foundation-${Date.now()}`;
  const assignments = (await (await api.get(`/api/assignments?userId=${userId}`)).json()) as {
    baggage: Record<string, string>;
  };
  const expected = {
    'experiment.rec_algorithm': assignments.baggage['experiment.rec_algorithm'],
    'experiment.ranking_boost': assignments.baggage['experiment.ranking_boost'],
  };
  const baggageHeaders: string[] = [];
  page.on('request', (request) => {
    const baggage = request.headers()['baggage'];
    if (baggage !== undefined) baggageHeaders.push(baggage);
  });

  // The home page fetches its rail through the SDK.
  const recommendationsRequest = page.waitForRequest((r) => r.url().includes('/api/recommendations'));
  const recommendationsResponse = page.waitForResponse((r) => r.url().includes('/api/recommendations'));
  await page.goto(`/?user=${userId}`);
  const railTraceId = traceIdOf(await recommendationsRequest);
  const served = (await (await recommendationsResponse).json()) as { requestId: string };
  const items = page.locator('[data-rec-request-id] [data-rec-content-id]');
  await expect(items).toHaveCount(8);

  // 1. The server's recommendation.request span is in the browser's trace.
  await expect.poll(async () => (await trace(api, railTraceId)).map((s) => s.name)).toContain('recommendation.request');
  const requestSpan = (await trace(api, railTraceId)).find((s) => s.name === 'recommendation.request')!;
  expect(requestSpan.attributes).toMatchObject({ ...expected, 'user.id': userId, 'recommendation.request_id': served.requestId });

  // Click the third recommendation; it navigates to the article at once.
  const third = items.nth(2);
  const contentId = (await third.getAttribute('data-rec-content-id'))!;
  const articleRequest = page.waitForRequest((r) => r.url().includes(`/api/content/${contentId}`));
  await third.click();
  await expect(page).toHaveURL(new RegExp(`/articles/${contentId}$`));
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();

  // 2. The click span landed, with the assignment the server gave this user.
  await expect.poll(async () => (await clicksFor(api, served.requestId)).length, { timeout: 15_000 }).toBe(1);
  const [click] = await clicksFor(api, served.requestId);
  expect(click!.attributes).toMatchObject({
    ...expected,
    'recommendation.position': 3,
    'content.id': contentId,
    'recommendation.request_id': served.requestId,
  });
  expect(click!.links).toContainEqual(expect.objectContaining({ traceId: requestSpan.traceId, spanId: requestSpan.spanId }));

  // 3. The click-through counter landed with the experiment attributes.
  await expect
    .poll(async () => (await clickThroughPoints(api)).filter((p) => p.attributes['experiment.rec_algorithm'] === expected['experiment.rec_algorithm']).length, {
      timeout: 15_000,
    })
    .toBeGreaterThan(0);
  const point = (await clickThroughPoints(api)).find((p) => p.attributes['recommendation.position'] === 3)!;
  expect(point.attributes).toMatchObject(expected);
  expect(point.value).toBe(1);

  // 4. The article page's fetch carried the visit's baggage, and its server span has the variant.
  const content = await articleRequest;
  const baggage = content.headers()['baggage'] ?? '';
  expect(baggage).toContain(`experiment.rec_algorithm=${expected['experiment.rec_algorithm']}`);
  expect(baggage).toContain(`experiment.ranking_boost=${expected['experiment.ranking_boost']}`);
  const contentTraceId = traceIdOf(content);
  await expect.poll(async () => (await trace(api, contentTraceId)).some((s) => s.kind === SERVER_KIND)).toBe(true);
  const serverSpan = (await trace(api, contentTraceId)).find((s) => s.kind === SERVER_KIND)!;
  expect(serverSpan.name).toBe('GET /api/content/:id');
  expect(serverSpan.attributes).toMatchObject(expected);

  // 5. No baggage header ever carried the user id.
  expect(baggageHeaders.length).toBeGreaterThan(0);
  for (const header of baggageHeaders) {
    expect(header).not.toContain('user.id');
    expect(header).not.toContain(userId);
  }

  // 6. Reloading as the same user keeps the variants.
  const again = page.waitForResponse((r) => r.url().includes('/api/recommendations'));
  await page.goto(`/?user=${userId}`);
  const reloaded = (await (await again).json()) as { baggage: Record<string, string> };
  expect(reloaded.baggage).toMatchObject(expected);
});
