/**
 * `npm run screenshots`: the README's pictures, taken from a real run. Starts a fresh server
 * as `npm start` runs it, drives it with the simulator (a planted +30% for `hybrid`), then
 * photographs the demo home page with its Experiments panel open and the dashboard in
 * Debian's Chromium. Writes `docs/demo-site.png` and `docs/dashboard.png`.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, chromiumExecutable } from './chromium.js';
import { E2E_READ_TOKEN, ROOT, runSimulator, startServerProcess } from './server-process.js';

async function main(): Promise<void> {
  const docs = join(ROOT, 'docs');
  mkdirSync(docs, { recursive: true });
  const server = await startServerProcess({ METRIC_INTERVAL_MS: '1000' }, { echoStderr: true });
  const browser = await chromium.launch({ executablePath: chromiumExecutable(), args: CHROMIUM_ARGS });
  try {
    process.stdout.write(await runSimulator(server.url, ['--users', '2000', '--effect', 'hybrid=+30%', '--seed', '7']));
    const page = await browser.newPage({ viewport: { width: 1200, height: 820 } });
    await page.goto(`${server.url}/?user=u00042`);
    await page.locator('[data-rec-content-id]').first().waitFor();
    await page.getByTestId('variant-panel-toggle').click();
    await page.getByTestId('panel-trace-link').waitFor();
    await page.screenshot({ path: join(docs, 'demo-site.png') });
    // Logged in by the link, as a person would be; the redirect drops the token.
    await page.goto(`${server.url}/dashboard?token=${encodeURIComponent(E2E_READ_TOKEN)}`);
    await page.locator('tr[data-variant]').first().waitFor();
    await page.screenshot({ path: join(docs, 'dashboard.png'), fullPage: true });
    console.log(`written ${join(docs, 'demo-site.png')} and ${join(docs, 'dashboard.png')}`);
  } finally {
    await browser.close();
    await server.stop();
  }
}

await main();
