/**
 * `npm run simulate` against a server of the test's own (a fresh store, so nothing else
 * counts), read back through the dashboard: a planted effect is marked significant, an A/A
 * run is not.
 */
import { CTR_SIGNIFICANCE_COLUMNS, expect, test, type Dashboard, type ExperimentResults, type Telemetry } from './fixtures.js';
import { runSimulator } from './server-process.js';

/**
 * The simulator is deterministic for a seed (visitors, visits and click draws), so these runs
 * give the same figures every time. 2,000 visitors (about 2,200 rails) take about 10 s. With
 * seed 3 and hybrid +100%, hybrid's lift over control comes out at about +120% (p (Holm)
 * about 1e-16); without the effect (A/A) the smallest p of either experiment is about 0.13.
 * (Seed 2 would be a poor A/A example: ranking_boost_v2 happens to come out at p ≈ 0.04.)
 */
const SIMULATION = ['--users', '2000', '--days', '1', '--seed', '3'];
const PLANTED = 'hybrid=+100%';
const ALPHA = 0.05;

test.describe.configure({ timeout: 120_000 });
// Wide enough for the whole results table in the report's screenshots.
test.use({ viewport: { width: 1920, height: 1080 } });

/** Runs the simulator against `url` and returns how many recommendation requests it made. */
async function simulate(url: string, ...args: string[]): Promise<number> {
  const stdout = await runSimulator(url, [...SIMULATION, ...args]);
  const requests = /(\d+) recommendation requests/.exec(stdout);
  expect(requests, stdout).not.toBeNull();
  return Number(requests![1]);
}

/** The experiment's results once every simulated request is in the store (the server's own spans are exported in batches). */
async function settledResults(store: Telemetry, key: string, requests: number): Promise<ExperimentResults> {
  await expect.poll(async () => (await store.results(key)).variants.reduce((sum, v) => sum + v.requests, 0), { timeout: 30_000 }).toBe(requests);
  return store.results(key);
}

/** Asserts that the dashboard shows these results (its request counts agree), not an earlier refresh. */
async function expectDashboardShows(dashboard: Dashboard, results: ExperimentResults): Promise<void> {
  for (const variant of results.variants) {
    await expect(await dashboard.cell(results.experiment, variant.variant, 'requests')).toHaveText(variant.requests.toLocaleString('en-US'));
  }
}

async function expectCtrCells(dashboard: Dashboard, key: string, variant: string, significant: boolean): Promise<void> {
  for (const column of CTR_SIGNIFICANCE_COLUMNS) {
    const cell = await dashboard.cell(key, variant, column);
    if (significant) await expect(cell, `${key} ${variant} ${column}`).toHaveClass(/\bsignificant\b/);
    else await expect(cell, `${key} ${variant} ${column}`).not.toHaveClass(/\bsignificant\b/);
  }
}

test('the simulator’s planted effect shows on the dashboard as significant', async ({ ownServer, telemetry, dashboard, page }, testInfo) => {
  const requests = await simulate(ownServer.url, '--effect', PLANTED);
  const results = await settledResults(telemetry.at(ownServer.url), 'rec_algorithm_v3', requests);
  expect(results.variants.reduce((sum, v) => sum + v.users, 0)).toBe(2000);
  const byVariant = Object.fromEntries(results.variants.map((v) => [v.variant, v]));
  expect(byVariant['hybrid']!.vsControl!.pValueHolm).toBeLessThan(0.001);
  expect(byVariant['hybrid']!.vsControl!.relativeLift).toBeGreaterThan(0.5);
  expect(byVariant['collaborative']!.vsControl!.pValueHolm).toBeGreaterThan(ALPHA);

  await dashboard.open(ownServer.url);
  await expectDashboardShows(dashboard, results);
  await expectCtrCells(dashboard, 'rec_algorithm_v3', 'hybrid', true);
  await expectCtrCells(dashboard, 'rec_algorithm_v3', 'collaborative', false);
  await testInfo.attach('dashboard, planted effect', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });
});

test('an A/A run of the simulator shows nothing significant on the dashboard', async ({ ownServer, telemetry, dashboard, page }, testInfo) => {
  const requests = await simulate(ownServer.url);
  const store = telemetry.at(ownServer.url);
  const all = [await settledResults(store, 'rec_algorithm_v3', requests), await settledResults(store, 'ranking_boost_v2', requests)];
  await dashboard.open(ownServer.url);
  for (const results of all) {
    const key = results.experiment;
    await expectDashboardShows(dashboard, results);
    for (const variant of results.variants.filter((v) => v.variant !== results.control)) {
      expect(variant.vsControl!.pValueHolm, `${key} ${variant.variant}`).toBeGreaterThan(ALPHA);
      await expectCtrCells(dashboard, key, variant.variant, false);
    }
  }
  await testInfo.attach('dashboard, A/A run', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });
});
