import { expect, test, type APIRequestContext } from '@playwright/test';

async function views(api: APIRequestContext, requestId: string): Promise<{ attributes: Record<string, unknown> }[]> {
  const response = await api.get(`/api/spans?name=recommendation.view&requestId=${encodeURIComponent(requestId)}`);
  return ((await response.json()) as { spans: { attributes: Record<string, unknown> }[] }).spans;
}

test.use({ viewport: { width: 360, height: 420 } });

test('viewable impressions fire once per item, and never for items not scrolled into view', async ({ page, request: api }) => {
  const userId = `e2e-views-${Date.now()}`;
  const served = page.waitForResponse((r) => r.url().includes('/api/recommendations'));
  await page.goto(`/?user=${userId}`);
  const { requestId, baggage } = (await (await served).json()) as { requestId: string; baggage: Record<string, string> };
  const items = page.locator('[data-rec-content-id]');
  await expect(items).toHaveCount(8);
  const last = items.last();
  const lastId = (await last.getAttribute('data-rec-content-id'))!;

  // On a phone-sized screen only the first items are in view; after a second they count.
  await expect.poll(async () => {
    await page.evaluate(() => window.VariantLens?.flush());
    return (await views(api, requestId)).length;
  }, { timeout: 15_000 }).toBeGreaterThan(0);
  const firstViews = await views(api, requestId);
  expect(firstViews.map((v) => v.attributes['content.id'])).not.toContain(lastId);
  for (const view of firstViews) {
    expect(view.attributes).toMatchObject({ 'experiment.rec_algorithm': baggage['experiment.rec_algorithm'], 'recommendation.request_id': requestId });
  }

  // Scrolled into view, the last item counts too — once, however long it stays.
  await last.scrollIntoViewIfNeeded();
  await expect.poll(async () => {
    await page.evaluate(() => window.VariantLens?.flush());
    return (await views(api, requestId)).filter((v) => v.attributes['content.id'] === lastId).length;
  }, { timeout: 15_000 }).toBe(1);
  await page.mouse.wheel(0, -2000);
  await last.scrollIntoViewIfNeeded();
  await page.evaluate(() => window.VariantLens?.flush());
  const all = await views(api, requestId);
  const perItem = new Map<unknown, number>();
  for (const view of all) perItem.set(view.attributes['content.id'], (perItem.get(view.attributes['content.id']) ?? 0) + 1);
  expect([...perItem.values()].every((n) => n === 1)).toBe(true);
});
