import { expect, isTelemetry, test, unsentBatches } from './fixtures.js';
import { ATTR, SPAN } from '../common/src/semconv.js';
import { BOOST_KEY } from './experiment-keys.js';

const other = process.env.E2E_CONCLUDED_URL!;

test('a middle-click on a recommendation is tracked', async ({ sdkPage, telemetry }) => {
  const { served } = await sdkPage.open(`e2e-middle-${Date.now()}`);
  await sdkPage.middleClick(2);
  await expect.poll(async () => (await telemetry.spans(SPAN.CLICK, served.requestId)).map((c) => c.attributes[ATTR.POSITION]), { timeout: 15_000 }).toEqual([2]);
});

test('consent withheld sends nothing until it is granted', async ({ sdkPage, telemetry, page }) => {
  const sent: string[] = [];
  page.on('request', (request) => {
    if (isTelemetry(request)) sent.push(request.url());
  });
  const { served } = await sdkPage.open(`e2e-consent-${Date.now()}`, 'data-consent="pending"');
  await sdkPage.rail.link(1).click({ button: 'middle' });
  await sdkPage.flush();
  expect(sent).toEqual([]);
  expect(await telemetry.spans(SPAN.CLICK, served.requestId)).toEqual([]);
  const delivered = page.waitForRequest((r) => isTelemetry(r) && (r.postData() ?? '').includes(SPAN.CLICK));
  await page.evaluate(() => window.VariantLens!.setConsent(true));
  await delivered;
  await telemetry.expectSpans(SPAN.CLICK, served.requestId, 1);
});

test('with the endpoint answering 503 and then recovering, the click is not lost', async ({ sdkPage, telemetry, page }) => {
  let refused = 0;
  await page.route('**/v1/traces', async (route) => {
    if (refused < 2) {
      refused += 1;
      await route.fulfill({ status: 503, headers: { 'retry-after': '0' }, body: '' });
    } else await route.continue();
  });
  const { served } = await sdkPage.open(`e2e-503-${Date.now()}`);
  await sdkPage.rail.link(3).click({ button: 'middle' });
  await sdkPage.flush();
  await expect.poll(async () => (await telemetry.spans(SPAN.CLICK, served.requestId)).length, { timeout: 20_000 }).toBe(1);
  expect(refused).toBe(2);
});

test('propagation headers go to the configured origins only', async ({ sdkPage, page }) => {
  const headers = new Map<string, Record<string, string>>();
  page.on('request', (request) => {
    if (request.url().includes('/api/experiments') && request.method() === 'GET') headers.set(new URL(request.url()).origin, request.headers());
  });
  await sdkPage.open(`e2e-origins-${Date.now()}`, `data-propagate-to="${other}"`);
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
  expect(allowed['baggage']).toContain(`${BOOST_KEY}=`);
  const notAllowed = headers.get(unlisted)!;
  expect(notAllowed['traceparent']).toBeUndefined();
  expect(notAllowed['baggage']).toBeUndefined();
});

test('a click that could not be sent is kept and delivered on the next page of the visit', async ({ sdkPage, telemetry, page }) => {
  test.setTimeout(60_000);
  // The whole context: the middle click opens the article in a new tab, whose SDK would
  // otherwise deliver the batch the first tab keeps (any page of the visit resends them).
  await page.context().route('**/v1/traces', (route) => route.abort('connectionrefused'));
  const userId = `e2e-persist-${Date.now()}`;
  const { served } = await sdkPage.open(userId);
  await sdkPage.rail.link(4).click({ button: 'middle' });
  // The exporter retries a refused connection a few times, then the batch is kept for later.
  await expect.poll(() => unsentBatches(page), { timeout: 30_000 }).toContain(SPAN.CLICK);
  expect(await telemetry.spans(SPAN.CLICK, served.requestId)).toEqual([]);
  await page.context().unroute('**/v1/traces');
  await sdkPage.open(userId);
  await telemetry.expectSpans(SPAN.CLICK, served.requestId, 1);
});
