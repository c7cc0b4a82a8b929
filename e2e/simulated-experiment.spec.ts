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
 * seed 3 and hybrid +100%, hybrid's lift over control comes out at about +120% (fixed-horizon
 * p (Holm) about 1e-16, always-valid about 1e-7); without the effect (A/A) the smallest
 * fixed-horizon p of either experiment is about 0.13, and every always-valid p is 1.
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
  const hybrid = byVariant['hybrid']!.vsControl!;
  expect(hybrid.significant).toBe(true);
  expect(hybrid.sequential.pValueHolm).toBeLessThan(0.001);
  expect(hybrid.sequential.diffCs[0]).toBeGreaterThan(0);
  expect(hybrid.relativeLift).toBeGreaterThan(0.5);
  expect(byVariant['collaborative']!.vsControl!.significant).toBe(false);
  expect(byVariant['collaborative']!.vsControl!.sequential.pValueHolm).toBeGreaterThan(ALPHA);

  await dashboard.open(ownServer.url);
  await expectDashboardShows(dashboard, results);
  await expectCtrCells(dashboard, 'rec_algorithm_v3', 'hybrid', true);
  await expectCtrCells(dashboard, 'rec_algorithm_v3', 'collaborative', false);
  const verdicts = dashboard.experiment('rec_algorithm_v3').getByRole('list', { name: 'Verdicts' });
  await expect(verdicts.locator('li[data-variant="hybrid"]')).toHaveText('hybrid beats control: decide');
  await expect(verdicts.locator('li[data-variant="collaborative"]')).toHaveText(/^collaborative — no difference yet: about [\d,]+ more users per arm to detect \+10 %$/);
  await testInfo.attach('dashboard, planted effect', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });

  // The fixed-horizon view is one click away, and says when it is valid.
  await page.getByLabel('fixed-horizon p-values (valid only at the planned sample size)').check();
  await expect(dashboard.experiment('rec_algorithm_v3').getByText(/valid only at the planned sample size \(5,000 users per arm\), read once: not reached yet/)).toBeVisible();
  await expect(await dashboard.cell('rec_algorithm_v3', 'hybrid', 'p (fixed horizon)')).toHaveText(/e-\d+$/);

  // On a 375 px phone the verdicts are readable and the page does not scroll sideways (the tables scroll inside their box).
  await page.setViewportSize({ width: 375, height: 667 });
  await expect(verdicts.locator('li[data-variant="hybrid"]')).toBeInViewport();
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
  await testInfo.attach('dashboard, planted effect, 375 px', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });
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
      expect(variant.vsControl!.significant, `${key} ${variant.variant}`).toBe(false);
      expect(variant.vsControl!.sequential.pValueHolm, `${key} ${variant.variant}`).toBeGreaterThan(ALPHA);
      expect(variant.vsControl!.pValueHolm, `${key} ${variant.variant} (fixed horizon)`).toBeGreaterThan(ALPHA);
      await expectCtrCells(dashboard, key, variant.variant, false);
      await expect(dashboard.experiment(key).locator(`li.verdict[data-variant="${variant.variant}"]`)).toHaveText(new RegExp(`^${variant.variant} — no difference yet`));
    }
  }
  await testInfo.attach('dashboard, A/A run', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });
});
