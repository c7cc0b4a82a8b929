import { E2E_READ_TOKEN, expect, test } from './fixtures.js';
import { ATTR, SPAN } from '../common/src/semconv.js';
import { ALGORITHM_KEY } from './experiment-keys.js';

const XSS = '<img src=x onerror=alert(1)>';

// Wide enough for the whole results table in the report's screenshot.
test.use({ viewport: { width: 1920, height: 1080 } });

test('the dashboard shows a click made in the browser, and renders attacker-controlled values as text', async ({ demoHome, articlePage, dashboard, telemetry, page, request: api }, testInfo) => {
  const { served } = await demoHome.open(`e2e-dashboard-${Date.now()}`);
  const variant = served.baggage[ALGORITHM_KEY]!;
  const before = await telemetry.results('rec_algorithm_v3');
  const clicksBefore = before.variants.find((v) => v.variant === variant)!.clicks;

  const contentId = await demoHome.openRecommendation(1);
  await articlePage.expectShown(contentId);

  // A span whose attribute values are markup, posted as a browser would.
  const now = (BigInt(Date.now()) * 1_000_000n).toString();
  const hostile = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: XSS } }] },
        scopeSpans: [
          {
            spans: [
              {
                traceId: 'd'.repeat(32),
                spanId: 'e'.repeat(16),
                name: SPAN.CLICK,
                startTimeUnixNano: now,
                endTimeUnixNano: now,
                attributes: [
                  { key: ATTR.REQUEST_ID, value: { stringValue: XSS } },
                  { key: ALGORITHM_KEY, value: { stringValue: XSS } },
                  { key: ATTR.CONTENT_ID, value: { stringValue: XSS } },
                ],
              },
            ],
          },
        ],
      },
    ],
  };
  expect((await api.post('/v1/traces', { data: hostile })).status()).toBe(200);

  let dialogs = 0;
  page.on('dialog', (dialog) => {
    dialogs += 1;
    void dialog.dismiss();
  });
  // The page keeps to its Content-Security-Policy: nothing it does is refused by it.
  const refused: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) refused.push(message.text());
  });
  await dashboard.open();
  // The click appears within seconds: the page refreshes itself every 5 s.
  await expect(await dashboard.cell('rec_algorithm_v3', variant, 'clicks')).toHaveText(String(clicksBefore + 1), { timeout: 15_000 });
  const rejected = dashboard.experiment('rec_algorithm_v3').getByText(/Rejected clicks: \d+ naming no served request/);
  await expect(rejected).toBeVisible();
  // The hostile click's claimed variant is shown as the text it is, never as markup.
  await expect(page.getByRole('list', { name: 'Rejected clicks by the variant they claimed' }).first()).toContainText(`claiming “${XSS}”`);
  await expect(page.locator('img[src="x"]')).toHaveCount(0);
  expect(dialogs).toBe(0);
  expect(refused).toEqual([]);
  await testInfo.attach('dashboard', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });
});

test('a browser without the read token gets the login form, and the form opens the dashboard', async ({ page }) => {
  const response = await page.goto('/dashboard');
  expect(response!.status()).toBe(401);
  await expect(page.getByRole('heading', { name: 'variant-lens · log in' })).toBeVisible();
  // The data calls are closed too, not only the page.
  expect((await page.request.get('/api/experiments/rec_algorithm_v3/results')).status()).toBe(401);
  await page.getByLabel('Read token').fill('not-the-read-token');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('alert')).toHaveText('That token is not the READ_TOKEN.');
  const results = page.waitForResponse((r) => /\/api\/experiments\/[^/]+\/results/.test(r.url()));
  await page.getByLabel('Read token').fill(E2E_READ_TOKEN);
  await page.getByRole('button', { name: 'Log in' }).click();
  expect((await results).status()).toBe(200);
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(page.locator('section[data-experiment="rec_algorithm_v3"] table').first()).toBeVisible();
  const cookie = (await page.context().cookies()).find((c) => c.name === 'variant_lens_read')!;
  expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
});
