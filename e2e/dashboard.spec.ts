import { expect, test } from '@playwright/test';

const XSS = '<img src=x onerror=alert(1)>';

test('the dashboard shows a click made in the browser, and renders attacker-controlled values as text', async ({ page, request: api }) => {
  const userId = `e2e-dashboard-${Date.now()}`;
  const served = page.waitForResponse((r) => r.url().includes('/api/recommendations'));
  await page.goto(`/?user=${userId}`);
  const body = (await (await served).json()) as { requestId: string; baggage: Record<string, string> };
  const variant = body.baggage['experiment.rec_algorithm']!;
  const before = (await (await api.get('/api/experiments/rec_algorithm_v3/results')).json()) as { variants: { variant: string; clicks: number }[] };
  const clicksBefore = before.variants.find((v) => v.variant === variant)!.clicks;

  await page.locator('[data-rec-content-id]').first().click();
  await expect(page).toHaveURL(/\/articles\//);

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
                name: 'recommendation.click',
                startTimeUnixNano: now,
                endTimeUnixNano: now,
                attributes: [
                  { key: 'recommendation.request_id', value: { stringValue: XSS } },
                  { key: 'experiment.rec_algorithm', value: { stringValue: XSS } },
                  { key: 'content.id', value: { stringValue: XSS } },
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
  await page.goto('/dashboard');
  const row = page.locator(`section[data-experiment="rec_algorithm_v3"] tr[data-variant="${variant}"]`);
  // The click appears within seconds: the page refreshes itself every 5 s.
  await expect(row.locator('td').nth(4)).toHaveText(String(clicksBefore + 1), { timeout: 15_000 });
  const rejected = page.locator('section[data-experiment="rec_algorithm_v3"]').getByText(/Rejected clicks: \d+ naming no served request/);
  await expect(rejected).toBeVisible();
  // The hostile click's claimed variant is shown as the text it is, never as markup.
  await expect(page.getByRole('list', { name: 'Rejected clicks by the variant they claimed' }).first()).toContainText(`claiming “${XSS}”`);
  await expect(page.locator('img[src="x"]')).toHaveCount(0);
  expect(dialogs).toBe(0);
  await test.info().attach('dashboard', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });
});
