import { ATTR } from '../common/src/semconv.js';
import { DemoHome, expect, test } from './fixtures.js';

/** W3C baggage header → entries (member properties after `;` dropped). */
function parseBaggage(header: string | undefined): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const member of (header ?? '').split(',')) {
    const [pair] = member.split(';');
    const eq = pair!.indexOf('=');
    if (eq > 0) entries[decodeURIComponent(pair!.slice(0, eq).trim())] = decodeURIComponent(pair!.slice(eq + 1).trim());
  }
  return entries;
}

test('the same visitor keeps the variants across reloads and visits', async ({ demoHome, telemetry, context }) => {
  const userId = `e2e-sticky-${Date.now()}`;
  const assigned = await telemetry.assignments(userId);
  const first = await demoHome.open(userId);
  expect(first.served.experiments).toEqual(assigned.experiments);
  expect(first.served.baggage).toEqual(assigned.baggage);

  // The rail's request names the visit's session from the first page on, and the same one on
  // every page of the visit; from the second page on it also carries the visit's baggage.
  const session = parseBaggage(first.request.headers()['baggage'])[ATTR.SESSION_ID];
  expect(session).toMatch(/^[0-9a-f]{32}$/);
  for (let reload = 1; reload <= 2; reload += 1) {
    const again = await demoHome.reload();
    expect(again.served.experiments, `reload ${reload}`).toEqual(assigned.experiments);
    expect(parseBaggage(again.request.headers()['baggage']), `reload ${reload}`).toEqual({ ...assigned.baggage, [ATTR.SESSION_ID]: session });
  }

  // A new visit (a new tab: the SDK's visit memory is per tab) gets the same variants.
  const { served } = await new DemoHome(await context.newPage()).open(userId);
  expect(served.experiments).toEqual(assigned.experiments);
});

test('different visitors spread across the variants, as /api/assignments says', async ({ telemetry, context }) => {
  // 40 page loads: 26 s on an idle machine, 48 s on one three times slower.
  test.setTimeout(180_000);
  // Fixed ids: the assignment is a pure function of the id, so the spread is the same every run
  // (for these 40: control 13, collaborative 11, hybrid 16; control 20, recency_boost 20).
  const visitors = Array.from({ length: 40 }, (_, i) => `e2e-spread-${String(i + 1).padStart(2, '0')}`);
  /** Tabs open at once: page loads overlap, and the test stays a few seconds long. */
  const TABS = 4;
  const seen = new Map<string, Map<string, number>>();
  // Each visitor in a tab of its own, so no visit memory carries over from another.
  const visit = async (userId: string) => {
    const home = new DemoHome(await context.newPage());
    const { served } = await home.open(userId);
    await expect(home.rail.links).toHaveCount(8);
    expect(served.experiments, userId).toEqual((await telemetry.assignments(userId)).experiments);
    for (const [experiment, variant] of Object.entries(served.experiments)) {
      const counts = seen.get(experiment) ?? new Map<string, number>();
      counts.set(variant, (counts.get(variant) ?? 0) + 1);
      seen.set(experiment, counts);
    }
    await home.page.close();
  };
  for (let i = 0; i < visitors.length; i += TABS) await Promise.all(visitors.slice(i, i + TABS).map(visit));

  const spread = Object.fromEntries([...seen].map(([experiment, counts]) => [experiment, Object.fromEntries(counts)]));
  expect(Object.keys(spread).sort()).toEqual(['ranking_boost_v2', 'rec_algorithm_v3']);
  expect(Object.keys(spread['rec_algorithm_v3']!).sort()).toEqual(['collaborative', 'control', 'hybrid']);
  expect(Object.keys(spread['ranking_boost_v2']!).sort()).toEqual(['control', 'recency_boost']);
  for (const counts of Object.values(spread)) {
    for (const [variant, count] of Object.entries(counts)) expect(count, `${variant} in ${JSON.stringify(spread)}`).toBeGreaterThanOrEqual(5);
  }
});
