import type { Page, Route } from '@playwright/test';
import { expect, test, unsentBatches, type Telemetry } from './fixtures.js';
import { ATTR, SPAN } from '../common/src/semconv.js';

/** The collection endpoint's requests, whose failures Chromium reports while it is down. */
const EXPECTED_FAILURES = /\/v1\/(traces|metrics)$/;

/**
 * Console errors and warnings, and uncaught exceptions, of a page. Chromium itself logs every
 * failed request as a console error `Failed to load resource: …` located at the request's URL:
 * that line comes from the browser's network stack, not from any script, and no page can
 * suppress it. Those lines for EXPECTED_FAILURES are set apart in `network`; everything else,
 * whatever its source, lands in `errors`, which must stay empty.
 */
function watchErrors(page: Page): { errors: string[]; network: string[] } {
  const errors: string[] = [];
  const network: string[] = [];
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() !== 'error' && message.type() !== 'warning') return;
    const at = message.location().url;
    const line = `${message.type()}: ${message.text()} (at ${at})`;
    const failedRequest = message.text().startsWith('Failed to load resource: ') && at !== '' && EXPECTED_FAILURES.test(new URL(at).pathname);
    (failedRequest ? network : errors).push(line);
  });
  return { errors, network };
}


interface Outage {
  readonly name: string;
  readonly route: (route: Route) => Promise<void>;
  /** How often the SDK sends a batch before it gives up on it. */
  readonly attempts: number;
}

const OUTAGES: Outage[] = [
  // Connection failures are retried: 5 attempts with backoff.
  { name: 'unreachable', route: (route) => route.abort('connectionrefused'), attempts: 5 },
  // A 500 is not retryable: one attempt.
  { name: 'answering 500', route: (route) => route.fulfill({ status: 500, contentType: 'application/json', body: '{"error":"down"}' }), attempts: 1 },
];

/** Counts the span posts that mention each request id, as the outage answers them. */
function failingEndpoint(page: Page, outage: Outage): Promise<(requestId: string) => number> {
  const bodies: string[] = [];
  return page
    .route('**/v1/**', (route) => {
      if (new URL(route.request().url()).pathname === '/v1/traces') bodies.push(route.request().postData() ?? '');
      return outage.route(route);
    })
    .then(() => (requestId: string) => bodies.filter((body) => body.includes(requestId)).length);
}

for (const outage of OUTAGES) {
  test(`with the collection endpoint ${outage.name}, the site works and the SDK logs no errors`, async ({ demoHome, articlePage, page }) => {
    test.setTimeout(90_000);
    const { errors, network } = watchErrors(page);
    const attemptsFor = await failingEndpoint(page, outage);

    const { served } = await demoHome.open(`e2e-down-${Date.now()}`);
    await expect(demoHome.rail.links).toHaveCount(8);
    // The rail's viewable impressions are exported and fail until the SDK gives up on them;
    // they stay kept for a later page.
    await expect.poll(() => attemptsFor(served.requestId), { timeout: 30_000 }).toBe(outage.attempts);
    expect(await unsentBatches(page)).toContain(served.requestId);

    // A click still navigates, and the next page works too.
    const contentId = await demoHome.openRecommendation(2);
    await articlePage.expectShown(contentId);
    await expect(articlePage.readNext.links).toHaveCount(6);
    // The article page resends what was kept, and then gives up on its own rail's views as well:
    // the SDK has been through its whole failure path on both pages.
    const readNext = (await articlePage.readNext.container.getAttribute('data-rec-request-id'))!;
    await expect.poll(() => attemptsFor(readNext), { timeout: 30_000 }).toBe(outage.attempts);
    expect(await unsentBatches(page)).toContain(readNext);

    expect(errors).toEqual([]);
    // The SDK did try: Chromium reported its failed posts.
    expect(network.filter((line) => line.includes('/v1/')).length).toBeGreaterThan(0);
  });
}

/** `recommendation.click_through` over every variant of the main experiment, as the results count it. */
async function clickThrough(store: Telemetry): Promise<number> {
  return (await store.results('rec_algorithm_v3')).variants.reduce((sum, v) => sum + v.metrics.clickThrough, 0);
}

test('a click that navigates while the endpoint is down is delivered from the next page, and counted once', async ({ ownServer, demoHome, articlePage, telemetry, page }) => {
  test.setTimeout(90_000);
  const store = telemetry.at(ownServer.url);
  // Everything the home page sends fails; the article page's requests get through. (Chromium
  // sends a navigating click's posts as the page unloads; routes see them by their referrer.)
  await page.route('**/v1/**', (route) => {
    const from = new URL(route.request().headers()['referer'] ?? ownServer.url).pathname;
    return from === '/' ? route.abort('connectionrefused') : route.continue();
  });
  const { served } = await demoHome.open(`e2e-outage-click-${Date.now()}`, ownServer.url);
  const contentId = await demoHome.openRecommendation(1);
  await articlePage.expectShown(contentId);
  // The article page resends the home page's batches, and forgets each once it is through.
  await expect.poll(() => unsentBatches(page), { timeout: 30_000 }).not.toContain(served.requestId);
  const [click] = await store.expectSpans(SPAN.CLICK, served.requestId, 1);
  expect(click!.attributes[ATTR.CONTENT_ID]).toBe(contentId);
  // The counter too, once: a batch sent twice (the home page's last try may have got through
  // unseen) is stored once.
  await expect
    .poll(() => clickThrough(store), { timeout: 30_000 })
    .toBe(1);
  expect((await store.results('rec_algorithm_v3')).variants.reduce((sum, v) => sum + v.clicks, 0)).toBe(1);
});

test('a click that navigates normally is counted once, though the next page resends its batch', async ({ ownServer, demoHome, articlePage, telemetry, page }) => {
  const store = telemetry.at(ownServer.url);
  const { served } = await demoHome.open(`e2e-resent-click-${Date.now()}`, ownServer.url);
  const contentId = await demoHome.openRecommendation(1);
  await articlePage.expectShown(contentId);
  // The home page never saw its keepalive posts answered, so the article page sends them again.
  await expect.poll(() => unsentBatches(page), { timeout: 30_000 }).not.toContain(served.requestId);
  await store.expectSpans(SPAN.CLICK, served.requestId, 1);
  await expect
    .poll(() => clickThrough(store), { timeout: 30_000 })
    .toBe(1);
  await expect(articlePage.readNext.links).toHaveCount(6);
  expect(await clickThrough(store)).toBe(1);
});
