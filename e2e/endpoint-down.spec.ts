import type { Page, Route } from '@playwright/test';
import { expect, test } from './fixtures.js';

/**
 * Requests whose failure Chromium may report while the collection endpoint is down: the
 * endpoint's own, and `/favicon.ico`, which Chromium asks for by itself (the demo site has no
 * icon, so that 404 is there with the endpoint up as well).
 */
const EXPECTED_FAILURES = /\/v1\/(traces|metrics)$|^\/favicon\.ico$/;

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

/** What the SDK could not deliver and kept for a later page (see the delivery gate). */
function unsent(page: Page): Promise<string> {
  return page.evaluate(() => localStorage.getItem('variant-lens.unsent') ?? '');
}

const OUTAGES: { name: string; route: (route: Route) => Promise<void> }[] = [
  // Connection failures are retried (5 attempts with backoff) before a batch is kept.
  { name: 'unreachable', route: (route) => route.abort('connectionrefused') },
  // A 500 is not retryable: the batch is kept at once.
  { name: 'answering 500', route: (route) => route.fulfill({ status: 500, contentType: 'application/json', body: '{"error":"down"}' }) },
];

for (const outage of OUTAGES) {
  test(`with the collection endpoint ${outage.name}, the site works and the SDK logs no errors`, async ({ demoHome, articlePage, page }) => {
    test.setTimeout(90_000);
    const { errors, network } = watchErrors(page);
    await page.route('**/v1/**', outage.route);

    const { served } = await demoHome.open(`e2e-down-${Date.now()}`);
    await expect(demoHome.rail.links).toHaveCount(8);
    // The rail's viewable impressions are exported, fail, and are kept once the SDK gives up on them.
    await expect.poll(() => unsent(page), { timeout: 30_000 }).toContain(served.requestId);

    // A click still navigates, and the next page works too.
    const contentId = await demoHome.openRecommendation(2);
    await articlePage.expectShown(contentId);
    await expect(articlePage.readNext.links).toHaveCount(6);
    // The article page resends what was kept, and then gives up on its own rail's views as well:
    // the SDK has been through its whole failure path on both pages.
    const readNext = (await articlePage.readNext.container.getAttribute('data-rec-request-id'))!;
    await expect.poll(() => unsent(page), { timeout: 30_000 }).toContain(readNext);

    expect(errors).toEqual([]);
    // The SDK did try: Chromium reported its failed posts.
    expect(network.filter((line) => line.includes('/v1/')).length).toBeGreaterThan(0);
  });
}
