import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { logIn } from './fixtures.js';
import { SPAN } from '../common/src/semconv.js';
import { ALGORITHM_KEY, BOOST_KEY } from './experiment-keys.js';

interface Assigned {
  experiments: Record<string, string>;
  baggage: Record<string, string>;
}

interface Served extends Assigned {
  requestId: string;
  trace: { traceId: string; spanId: string };
  recommendations: { contentId: string; url: string }[];
}

const PHONE = { width: 375, height: 667 };
/** The server writes its spans a moment after answering, and browsers theirs after that. */
const TELEMETRY_TIMEOUT_MS = 15_000;

async function assignments(api: APIRequestContext, userId: string): Promise<Assigned> {
  return (await (await api.get(`/api/assignments?userId=${encodeURIComponent(userId)}`)).json()) as Assigned;
}

/** Opens a demo page and waits for its recommendations response. */
async function openServed(page: Page, path: string): Promise<Served> {
  const served = page.waitForResponse((r) => r.url().includes('/api/recommendations'));
  await page.goto(path);
  return (await (await served).json()) as Served;
}

async function expectVariants(page: Page, assigned: Assigned): Promise<void> {
  const panel = page.getByTestId('variant-panel');
  await expect(panel.locator('[data-experiment]')).toHaveCount(Object.keys(assigned.experiments).length);
  for (const [key, variant] of Object.entries(assigned.experiments)) {
    await expect(panel.locator(`[data-experiment="${key}"] dd`)).toHaveText(variant);
  }
}

async function expectNoHorizontalScroll(page: Page, what: string): Promise<void> {
  const { scrollWidth, clientWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
  }));
  expect(scrollWidth, `${what} scrolls sideways`).toBeLessThanOrEqual(clientWidth);
}

test('the experiments panel shows the visitor’s variants and links to the trace of the last recommendations request', async ({ page, request: api }, testInfo) => {
  const userId = `e2e-panel-${Date.now()}`;
  const assigned = await assignments(api, userId);
  // The trace link is the team's: it opens for a browser logged in to the read side.
  await logIn(page);
  const served = await openServed(page, `/?user=${userId}`);
  await expect(page.locator('[data-rec-request-id] [data-rec-content-id]')).toHaveCount(8);
  // The visit's session, which the SDK names in the baggage of the recommendations request.
  const session = await page.evaluate(() => JSON.parse(sessionStorage.getItem('variant-lens.session') ?? 'null') as string | null);
  expect(session).toMatch(/^[0-9a-f]{32}$/);
  // The browser's span of that fetch, in the SDK's next batch: the fetch instrumentation ends
  // it only after the resource timing entry is in, so a page left sooner never sends it.
  const browserSpan = page.waitForRequest((r) => r.url().endsWith('/v1/traces') && (r.postData() ?? '').includes(served.trace.traceId));

  const toggle = page.getByRole('button', { name: 'Experiments' });
  const panel = page.getByTestId('variant-panel');
  await expect(toggle).toHaveAttribute('aria-expanded', 'false');
  await expect(panel).toBeHidden();
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  await expect(panel).toBeVisible();
  await expect(panel.getByTestId('panel-visitor')).toHaveText(userId);
  await expect(panel).toContainText('?user=ID');
  await expectVariants(page, assigned);
  await expect(panel.getByTestId('panel-source')).toHaveText('From the last recommendations response.');
  const link = panel.getByTestId('panel-trace-link');
  await expect(link).toHaveAttribute('href', `/dashboard/trace.html?traceId=${served.trace.traceId}`);
  await testInfo.attach('home with the experiments panel open', { body: await page.screenshot(), contentType: 'image/png' });

  // Keyboard: Escape closes the panel and gives focus back to the toggle; Enter opens it again.
  await link.focus();
  await page.keyboard.press('Escape');
  await expect(panel).toBeHidden();
  await expect(toggle).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(panel).toBeVisible();

  await browserSpan;
  await link.click();
  await expect(page).toHaveURL(`/dashboard/trace.html?traceId=${served.trace.traceId}`);
  const rows = page.getByTestId('trace-span');
  const request = rows.and(page.locator(`[data-span-name="${SPAN.REQUEST}"]`));
  await expect(request).toBeVisible({ timeout: TELEMETRY_TIMEOUT_MS });
  for (const key of [ALGORITHM_KEY, BOOST_KEY]) {
    await expect(request.locator('.chip').filter({ hasText: `${key}=${assigned.baggage[key]}` })).toHaveCount(1);
  }
  await expect(request).toHaveAttribute('data-service', 'recommendation-service');
  // The request span sits under the server span of GET /api/recommendations.
  const serverSpan = rows.and(page.locator('[data-span-name="GET /api/recommendations"]'));
  await expect(serverSpan).toBeVisible();
  const depth = async (row: typeof request) => Number(await row.getAttribute('data-depth'));
  expect(await depth(request)).toBeGreaterThan(await depth(serverSpan));
  // Its attributes are one click away, request id included.
  await request.locator('summary').click();
  await expect(request.getByRole('table', { name: 'span attributes' })).toContainText(served.requestId);
  // The server recorded the visit's session on it: a click from another session will not count.
  await expect(request.getByRole('table', { name: 'span attributes' })).toContainText(session!);
  // The browser's own span of the fetch is there too, as the root, marked as browser-reported.
  const browserRow = rows.and(page.locator('[data-service="demo-content-site"]'));
  await expect(browserRow).toHaveCount(1, { timeout: TELEMETRY_TIMEOUT_MS });
  await expect(browserRow).toHaveAttribute('data-depth', '0');
  await expect(browserRow).toContainText('browser-reported');
  await expect(request.locator('details')).toHaveAttribute('open', '');
  await testInfo.attach('trace page', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });
});

test('before any recommendations arrive, the panel shows the assignment from /api/assignments', async ({ page, request: api }) => {
  const userId = `e2e-panel-fallback-${Date.now()}`;
  const assigned = await assignments(api, userId);
  await page.route('**/api/recommendations?**', (route) => route.abort());
  await page.goto(`/?user=${userId}`);
  await expect(page.getByTestId('rail-status')).toContainText('Recommendations are unavailable');
  const fromAssignments = page.waitForResponse((r) => r.url().includes('/api/assignments'));
  await page.getByRole('button', { name: 'Experiments' }).click();
  await fromAssignments;
  await expectVariants(page, assigned);
  await expect(page.getByTestId('panel-source')).toContainText('GET /api/assignments');
  await expect(page.getByTestId('panel-trace')).toHaveText('No recommendations request on this page yet.');
});

test('a topic page lists the topic’s newest articles and has its own recommendation rail', async ({ page, request: api }) => {
  const userId = `e2e-topic-${Date.now()}`;
  const listing = page.waitForResponse((r) => r.url().includes('/api/content?topic=science'));
  const served = await openServed(page, `/topics/science?user=${userId}`);
  const { articles } = (await (await listing).json()) as { articles: { contentId: string; topic: string; title: string }[] };
  expect(articles).toHaveLength(20);
  expect(new Set(articles.map((a) => a.topic))).toEqual(new Set(['science']));

  await expect(page.getByRole('heading', { level: 1 })).toHaveText('science');
  const items = page.getByTestId('topic-articles').locator('li');
  await expect(items).toHaveCount(20);
  expect(await items.evaluateAll((nodes) => nodes.map((n) => (n as HTMLElement).dataset.contentId))).toEqual(articles.map((a) => a.contentId));
  await expect(items.first().getByRole('link')).toHaveAttribute('href', `/articles/${articles[0]!.contentId}`);

  // The rail: SPEC markup, the served request id, positions from 1.
  const rail = page.locator(`[data-rec-request-id="${served.requestId}"]`);
  await expect(rail).toBeVisible();
  const recs = rail.locator('a[data-rec-content-id][data-rec-position]');
  await expect(recs).toHaveCount(4);
  expect(await recs.evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-rec-position')))).toEqual(['1', '2', '3', '4']);
  await expect(recs.first()).toHaveAttribute('href', /^\/articles\/a\d+$/);

  // The masthead's topic navigation marks this topic; the article page links back to it.
  const nav = page.getByRole('navigation', { name: 'Topics' });
  await expect(nav.getByRole('link')).toHaveCount(((await (await api.get('/api/topics')).json()) as { topics: unknown[] }).topics.length);
  await expect(nav.getByRole('link', { name: 'science' })).toHaveAttribute('aria-current', 'page');
  await items.first().getByRole('link').click();
  await expect(page).toHaveURL(`/articles/${articles[0]!.contentId}`);
  const topicLink = page.getByTestId('article').getByRole('link', { name: 'science' });
  await expect(topicLink).toHaveAttribute('href', '/topics/science');

  // An unknown topic says so, and the site around it still works.
  await page.goto('/topics/astrology');
  await expect(page.getByTestId('topic-status')).toHaveText('There is no topic “astrology”. Pick one above.');
  await expect(nav.getByRole('link', { name: 'food' })).toBeVisible();
});

test('on a 375×667 phone no page scrolls sideways and the panel fits the screen', async ({ page }) => {
  await page.setViewportSize(PHONE);
  /** Checks the page at `path` with its experiments panel open. */
  const check = async (what: string, path: string): Promise<Served> => {
    const served = await openServed(page, path);
    await expect(page.locator('[data-rec-request-id] [data-rec-content-id]').first()).toBeVisible();
    await expect(page.getByRole('navigation', { name: 'Topics' }).getByRole('link').first()).toBeVisible();
    await expectNoHorizontalScroll(page, what);
    const panel = page.getByTestId('variant-panel');
    // The panel stays open from page to page of a visit.
    if (await panel.isHidden()) await page.getByRole('button', { name: 'Experiments' }).click();
    await expect(panel.getByTestId('panel-trace-link')).toBeVisible();
    const box = (await panel.boundingBox())!;
    expect(box.x, `${what}: the panel starts off screen`).toBeGreaterThanOrEqual(0);
    expect(box.x + box.width, `${what}: the panel is wider than the screen`).toBeLessThanOrEqual(PHONE.width);
    expect(box.y + box.height, `${what}: the panel is taller than the screen`).toBeLessThanOrEqual(PHONE.height);
    await expectNoHorizontalScroll(page, `${what} with the panel open`);
    return served;
  };
  const served = await check('home', `/?user=e2e-phone-${Date.now()}`);
  await check('article', served.recommendations[0]!.url);
  await check('topic', '/topics/technology');
  await logIn(page, '', `/dashboard/trace.html?traceId=${served.trace.traceId}`);
  await expect(page.getByTestId('trace-span').first()).toBeVisible({ timeout: TELEMETRY_TIMEOUT_MS });
  await expectNoHorizontalScroll(page, 'trace page');
});

test('the trace page refuses a malformed id, waits for a trace not stored yet, and shows hostile spans as text', async ({ page, request: api }) => {
  await logIn(page, '', '/dashboard/trace.html?traceId=not-a-trace');
  await expect(page.getByTestId('trace-status')).toHaveText('“not-a-trace” is not a trace id: expected 32 hexadecimal digits, not all zero.');
  await expect(page.getByTestId('trace-refresh')).toBeDisabled();

  const traceId = `${Date.now().toString(16)}`.padStart(32, 'f');
  const traceLoaded = page.waitForResponse((r) => r.url().endsWith(`/api/traces/${traceId}`));
  await page.goto(`/dashboard/trace.html?traceId=${traceId}`);
  expect((await traceLoaded).status()).toBe(404);
  await expect(page.getByTestId('trace-status')).toContainText('No spans stored yet for this trace.');

  const XSS = '<img src=x onerror=alert(1)>';
  const now = (BigInt(Date.now()) * 1_000_000n).toString();
  const posted = await api.post('/v1/traces', {
    data: {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: XSS } }] },
          scopeSpans: [
            {
              spans: [
                {
                  traceId,
                  spanId: 'abcdef0123456789',
                  name: XSS,
                  startTimeUnixNano: now,
                  endTimeUnixNano: now,
                  attributes: [{ key: ALGORITHM_KEY, value: { stringValue: XSS } }],
                  links: [{ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8) }],
                },
              ],
            },
          ],
        },
      ],
    },
  });
  expect(posted.status()).toBe(200);
  let dialogs = 0;
  page.on('dialog', (dialog) => {
    dialogs += 1;
    void dialog.dismiss();
  });
  // The page is still asking every 2 s, so the span appears without a reload.
  const row = page.getByTestId('trace-span');
  await expect(row).toHaveCount(1, { timeout: TELEMETRY_TIMEOUT_MS });
  await expect(row.locator('.span-name')).toHaveText(XSS);
  await expect(row.locator('.chip')).toHaveText(`${ALGORITHM_KEY}=${XSS}`);
  await expect(row).toContainText('browser-reported');
  // A link line reads as a sentence, with a link to the linked trace.
  await row.locator('summary').click();
  const linkLine = row.locator('p.link-line');
  await expect(linkLine).toHaveText(`link to trace ${'ab'.repeat(16)}, span ${'cd'.repeat(8)}`);
  await expect(linkLine.getByRole('link')).toHaveAttribute('href', `?traceId=${'ab'.repeat(16)}`);
  await expect(page.locator('img[src="x"]')).toHaveCount(0);
  expect(dialogs).toBe(0);
});
