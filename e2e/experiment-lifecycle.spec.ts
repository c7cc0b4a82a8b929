import { expect, test } from './fixtures.js';
import { ALGORITHM_KEY, BOOST_KEY } from './experiment-keys.js';

const concluded = process.env.E2E_CONCLUDED_URL!;

test('a concluded experiment gives its winner and disappears from baggage', async ({ demoHome, articlePage, telemetry, request: api }) => {
  const userId = `e2e-concluded-${Date.now()}`;
  const { served } = await demoHome.open(userId, concluded);
  expect(served.experiments['rec_algorithm_v3']).toBe('hybrid');
  expect(served.baggage[ALGORITHM_KEY]).toBeUndefined();
  expect(served.baggage[BOOST_KEY]).toMatch(/^(control|recency_boost)$/);

  const article = articlePage.waitForContentRequest();
  await demoHome.openRecommendation(1);
  const request = await article;
  const baggage = request.headers()['baggage'] ?? '';
  expect(baggage).toContain(`${BOOST_KEY}=`);
  expect(baggage).not.toContain(ALGORITHM_KEY);

  // Spoofing the concluded key from the browser does not bring it back onto server spans.
  const traceId = 'abcdefabcdefabcdefabcdefabcdef12';
  await api.get(`${concluded}/api/content/a00001?userId=${userId}`, {
    headers: { traceparent: `00-${traceId}-1234567812345678-01`, baggage: `${ALGORITHM_KEY}=control` },
  });
  const concludedStore = telemetry.at(concluded);
  await expect.poll(async () => (await concludedStore.trace(traceId)).length, { timeout: 15_000 }).toBeGreaterThan(0);
  for (const span of await concludedStore.trace(traceId)) expect(span.attributes[ALGORITHM_KEY]).toBeUndefined();
});
