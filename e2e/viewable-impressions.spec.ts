import { expect, test } from './fixtures.js';
import { ATTR, SPAN } from '../common/src/semconv.js';
import { ALGORITHM_KEY } from './experiment-keys.js';

test.use({ viewport: { width: 360, height: 420 } });

test('viewable impressions fire once per item, and never for items not scrolled into view', async ({ demoHome, telemetry, page }) => {
  const { served } = await demoHome.open(`e2e-views-${Date.now()}`);
  const { requestId, baggage } = served;
  const views = () => telemetry.spans(SPAN.VIEW, requestId);
  const flush = () => page.evaluate(() => window.VariantLens?.flush());
  const items = demoHome.rail.links;
  await expect(items).toHaveCount(8);
  const last = items.last();
  const lastId = (await last.getAttribute('data-rec-content-id'))!;

  // On a phone-sized screen only the first items are in view; after a second they count.
  await expect.poll(async () => {
    await flush();
    return (await views()).length;
  }, { timeout: 15_000 }).toBeGreaterThan(0);
  const firstViews = await views();
  expect(firstViews.map((v) => v.attributes[ATTR.CONTENT_ID])).not.toContain(lastId);
  for (const view of firstViews) {
    expect(view.attributes).toMatchObject({ [ALGORITHM_KEY]: baggage[ALGORITHM_KEY], [ATTR.REQUEST_ID]: requestId });
  }

  // Scrolled into view, the last item counts too — once, however long it stays.
  await last.scrollIntoViewIfNeeded();
  await expect.poll(async () => {
    await flush();
    return (await views()).filter((v) => v.attributes[ATTR.CONTENT_ID] === lastId).length;
  }, { timeout: 15_000 }).toBe(1);
  await page.mouse.wheel(0, -2000);
  await last.scrollIntoViewIfNeeded();
  await flush();
  const all = await views();
  const perItem = new Map<unknown, number>();
  for (const view of all) perItem.set(view.attributes[ATTR.CONTENT_ID], (perItem.get(view.attributes[ATTR.CONTENT_ID]) ?? 0) + 1);
  expect([...perItem.values()].every((n) => n === 1)).toBe(true);
});
