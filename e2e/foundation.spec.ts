import { expect, SERVER_KIND, test, traceIdOf } from './fixtures.js';
import { ATTR, METRIC, SPAN } from '../common/src/semconv.js';
import { ALGORITHM_KEY, BOOST_KEY } from './experiment-keys.js';

test('the home page shows recommendations with the markup the SDK tracks', async ({ demoHome, page }, testInfo) => {
  const { served } = await demoHome.open(`e2e-home-${Date.now()}`);
  await expect(page.getByRole('heading', { name: 'Recommended for you' })).toBeVisible();
  await expect(demoHome.rail.container).toHaveAttribute('data-rec-request-id', served.requestId);
  await expect(demoHome.rail.links).toHaveCount(served.recommendations.length);
  expect(served.recommendations).toHaveLength(8);
  for (const rec of served.recommendations) {
    const link = demoHome.rail.link(rec.position);
    await expect(link).toHaveAttribute('data-rec-content-id', rec.contentId);
    await expect(link).toHaveAttribute('href', rec.url);
    await expect(link).toContainText(rec.title);
  }
  await expect(page.getByTestId('rail-status')).toHaveCount(0);
  await testInfo.attach('demo home page', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });
});

test('a visitor clicks a recommendation and the whole loop is in the store', async ({ demoHome, articlePage, telemetry, page }) => {
  const userId = `e2e-foundation-${Date.now()}`;
  const assignments = await telemetry.assignments(userId);
  const expected = {
    [ALGORITHM_KEY]: assignments.baggage[ALGORITHM_KEY],
    [BOOST_KEY]: assignments.baggage[BOOST_KEY],
  };
  /** Once `landmark` is stored, asserts that every span the server side stored of the trace (trusted, not the browser's) carries `expected`. */
  const expectVariantDownstream = async (traceId: string, landmark: string) => {
    await telemetry.spanIn(traceId, (s) => s.name === landmark, landmark);
    const spans = (await telemetry.trace(traceId)).filter((s) => s.trusted);
    expect(spans.length).toBeGreaterThan(1);
    for (const span of spans) expect(span.attributes, `${span.service}: ${span.name}`).toMatchObject(expected);
  };
  const baggageHeaders: string[] = [];
  page.on('request', (request) => {
    const baggage = request.headers()['baggage'];
    if (baggage !== undefined) baggageHeaders.push(baggage);
  });

  // The home page fetches its rail through the SDK.
  const { request: railRequest, served } = await demoHome.open(userId);
  await expect(demoHome.rail.links).toHaveCount(8);

  // 1. The server's recommendation.request span is in the browser's trace.
  const requestSpan = await telemetry.spanIn(traceIdOf(railRequest), (s) => s.name === SPAN.REQUEST, SPAN.REQUEST);
  expect(requestSpan.attributes).toMatchObject({ ...expected, [ATTR.USER_ID]: userId, [ATTR.REQUEST_ID]: served.requestId });
  // Every span downstream of it (cache, database, the feature store's) carries the variant.
  // Later requests find the visitor's features cached, so the first is where the feature store shows.
  await expectVariantDownstream(requestSpan.traceId, SPAN.FEATURE_STORE_GET);

  // Click the third recommendation; it navigates to the article at once.
  const contentRequest = articlePage.waitForContentRequest();
  const readNextRequest = articlePage.waitForRailRequest();
  const contentId = await demoHome.openRecommendation(3);
  await articlePage.expectShown(contentId);

  // 2. The click span landed, with the assignment the server gave this user.
  const [click] = await telemetry.expectSpans(SPAN.CLICK, served.requestId, 1);
  expect(click!.attributes).toMatchObject({
    ...expected,
    [ATTR.POSITION]: 3,
    [ATTR.CONTENT_ID]: contentId,
    [ATTR.REQUEST_ID]: served.requestId,
  });
  expect(click!.links).toContainEqual(expect.objectContaining({ traceId: requestSpan.traceId, spanId: requestSpan.spanId }));

  // 3. The click-through counter landed with the experiment attributes.
  await expect
    .poll(async () => (await telemetry.points(METRIC.CLICK_THROUGH)).filter((p) => p.attributes[ALGORITHM_KEY] === expected[ALGORITHM_KEY]).length, {
      timeout: 15_000,
    })
    .toBeGreaterThan(0);
  const point = (await telemetry.points(METRIC.CLICK_THROUGH)).find((p) => p.attributes[ATTR.POSITION] === 3)!;
  expect(point.attributes).toMatchObject(expected);
  expect(point.value).toBe(1);

  // 4. The article page's fetch carried the visit's baggage, and its server span has the variant.
  const content = await contentRequest;
  expect(new URL(content.url()).pathname).toBe(`/api/content/${contentId}`);
  const baggage = content.headers()['baggage'] ?? '';
  expect(baggage).toContain(`${ALGORITHM_KEY}=${expected[ALGORITHM_KEY]}`);
  expect(baggage).toContain(`${BOOST_KEY}=${expected[BOOST_KEY]}`);
  const serverSpan = await telemetry.spanIn(traceIdOf(content), (s) => s.kind === SERVER_KIND, 'the server span of GET /api/content/:id');
  expect(serverSpan.name).toBe('GET /api/content/:id');
  expect(serverSpan.attributes).toMatchObject(expected);
  // The browser's own span of that fetch (its parent, exported by the SDK) carries the variant too.
  const fetchSpan = await telemetry.spanIn(traceIdOf(content), (s) => s.spanId === serverSpan.parentSpanId, 'the browser span of the content fetch');
  expect(fetchSpan.trusted).toBe(false);
  expect(fetchSpan.attributes).toMatchObject(expected);
  // So did the article page's rail fetch, and every span the server made for it carries the variant.
  const readNext = await readNextRequest;
  expect(readNext.headers()['baggage']).toBe(baggage);
  await expectVariantDownstream(traceIdOf(readNext), SPAN.REQUEST);

  // 5. No baggage header ever carried the user id.
  expect(baggageHeaders.length).toBeGreaterThan(0);
  for (const header of baggageHeaders) {
    expect(header).not.toContain(ATTR.USER_ID);
    expect(header).not.toContain(userId);
  }

  // 6. Reloading as the same user keeps the variants.
  const { served: reloaded } = await demoHome.open(userId);
  expect(reloaded.baggage).toMatchObject(expected);
});
