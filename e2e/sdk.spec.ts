import { expect, test, type APIRequestContext, type Page, type Request } from '@playwright/test';

const other = process.env.E2E_CONCLUDED_URL!;

/** A page of the site's origin that embeds the SDK with the given data attributes and renders a rail. */
async function openTestPage(page: Page, userId: string, attributes: string): Promise<{ requestId: string }> {
  const html = `<!doctype html><html><head><meta charset="utf-8">
    <script src="/sdk.js" data-visitor-id="fixed:${userId}" ${attributes}></script></head>
    <body><ol id="rail"></ol><script>
      VariantLens.getRecommendations({ limit: 6 }).then((r) => {
        const list = document.getElementById('rail');
        list.setAttribute('data-rec-request-id', r.requestId);
        for (const rec of r.recommendations) {
          const li = document.createElement('li');
          const a = document.createElement('a');
          a.href = rec.url; a.textContent = rec.title;
          a.setAttribute('data-rec-content-id', rec.contentId);
          a.setAttribute('data-rec-position', String(rec.position));
          li.append(a); list.append(li);
        }
        document.body.dataset.requestId = r.requestId;
      });
    </script></body></html>`;
  await page.route('**/e2e-sdk-page', (route) => route.fulfill({ contentType: 'text/html', body: html }));
  await page.goto('/e2e-sdk-page');
  await expect(page.locator('#rail [data-rec-content-id]')).toHaveCount(6);
  return { requestId: (await page.locator('body').getAttribute('data-request-id'))! };
}

async function clicks(api: APIRequestContext, requestId: string): Promise<{ attributes: Record<string, unknown> }[]> {
  const response = await api.get(`/api/spans?name=recommendation.click&requestId=${encodeURIComponent(requestId)}`);
  return ((await response.json()) as { spans: { attributes: Record<string, unknown> }[] }).spans;
}

function isTelemetry(request: Request): boolean {
  return /\/v1\/(traces|metrics)$/.test(new URL(request.url()).pathname);
}

test('a middle-click on a recommendation is tracked', async ({ page, request: api }) => {
  const { requestId } = await openTestPage(page, `e2e-middle-${Date.now()}`, '');
  await page.locator('#rail [data-rec-position="2"]').click({ button: 'middle' });
  await expect.poll(async () => (await clicks(api, requestId)).map((c) => c.attributes['recommendation.position'])).toEqual([2]);
});

test('consent withheld sends nothing until it is granted', async ({ page, request: api }) => {
  const sent: string[] = [];
  page.on('request', (request) => {
    if (isTelemetry(request)) sent.push(request.url());
  });
  const { requestId } = await openTestPage(page, `e2e-consent-${Date.now()}`, 'data-consent="pending"');
  await page.locator('#rail [data-rec-position="1"]').click({ button: 'middle' });
  await page.evaluate(() => window.VariantLens!.flush());
  expect(sent).toEqual([]);
  expect(await clicks(api, requestId)).toEqual([]);
  const delivered = page.waitForRequest((r) => isTelemetry(r) && (r.postData() ?? '').includes('recommendation.click'));
  await page.evaluate(() => window.VariantLens!.setConsent(true));
  await delivered;
  await expect.poll(async () => (await clicks(api, requestId)).length).toBe(1);
});

test('with the endpoint answering 503 and then recovering, the click is not lost', async ({ page, request: api }) => {
  let refused = 0;
  await page.route('**/v1/traces', async (route) => {
    if (refused < 2) {
      refused += 1;
      await route.fulfill({ status: 503, headers: { 'retry-after': '0' }, body: '' });
    } else await route.continue();
  });
  const { requestId } = await openTestPage(page, `e2e-503-${Date.now()}`, '');
  await page.locator('#rail [data-rec-position="3"]').click({ button: 'middle' });
  await page.evaluate(() => window.VariantLens!.flush());
  await expect.poll(async () => (await clicks(api, requestId)).length, { timeout: 20_000 }).toBe(1);
  expect(refused).toBe(2);
});

test('propagation headers go to the configured origins only', async ({ page }) => {
  const headers = new Map<string, Record<string, string>>();
  page.on('request', (request) => {
    if (request.url().includes('/api/experiments') && request.method() === 'GET') headers.set(new URL(request.url()).origin, request.headers());
  });
  await openTestPage(page, `e2e-origins-${Date.now()}`, `data-propagate-to="${other}"`);
  const unlisted = other.replace('localhost', '127.0.0.1');
  await page.evaluate(
    async ([allowed, notAllowed]) => {
      await fetch(`${allowed}/api/experiments`).catch(() => undefined);
      await fetch(`${notAllowed}/api/experiments`).catch(() => undefined);
    },
    [other, unlisted],
  );
  const allowed = headers.get(other)!;
  expect(allowed['traceparent']).toMatch(/^00-/);
  expect(allowed['baggage']).toContain('experiment.ranking_boost=');
  const notAllowed = headers.get(unlisted)!;
  expect(notAllowed['traceparent']).toBeUndefined();
  expect(notAllowed['baggage']).toBeUndefined();
});

test('a click that could not be sent is kept and delivered on the next page of the visit', async ({ page, request: api }) => {
  test.setTimeout(60_000);
  await page.route('**/v1/traces', (route) => route.abort('connectionrefused'));
  const userId = `e2e-persist-${Date.now()}`;
  const { requestId } = await openTestPage(page, userId, '');
  await page.locator('#rail [data-rec-position="4"]').click({ button: 'middle' });
  // The exporter retries a refused connection a few times, then the batch is kept for later.
  await expect.poll(() => page.evaluate(() => localStorage.getItem('variant-lens.unsent') ?? ''), { timeout: 30_000 }).toContain('recommendation.click');
  expect(await clicks(api, requestId)).toEqual([]);
  await page.unroute('**/v1/traces');
  await openTestPage(page, userId, '');
  await expect.poll(async () => (await clicks(api, requestId)).length, { timeout: 15_000 }).toBe(1);
});
