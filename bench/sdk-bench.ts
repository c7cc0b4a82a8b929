/**
 * SDK benchmark: the script-tag bundle's gzip size, and the main-thread cost of one tracked
 * click in Chromium (the synchronous part of dispatching a click on a recommendation,
 * against the same dispatch on an element the SDK ignores).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, chromiumExecutable } from '../e2e/chromium.js';
import { PROJECT_ROOT, printTable, startServer, writeResult } from './bench-lib.js';

const CLICKS = 400;
/** The build's size budget (package.json `config.sdkSizeBudgetBytes`, checked by client-sdk/check-size.mjs). */
const SIZE_BUDGET_BYTES = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { config: { sdkSizeBudgetBytes: number } }).config.sdkSizeBudgetBytes;
const CLICK_BUDGET_MS = 0.2;

export async function runSdkBench(): Promise<Record<string, unknown>> {
  const gzipBytes = gzipSync(readFileSync(join(PROJECT_ROOT, 'dist/sdk/variant-lens.iife.js')), { level: 9 }).length;
  const server = await startServer();
  const browser = await chromium.launch({ executablePath: chromiumExecutable(), args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    await page.goto(`${server.url}/?user=bench-sdk`);
    await page.locator('[data-rec-content-id]').first().waitFor();
    const timings = await page.evaluate((clicks) => {
      // Keep the page here: cancel navigation before the link acts, after the SDK has seen the click.
      window.addEventListener('click', (event) => event.preventDefault());
      const target = document.querySelector('[data-rec-content-id]')!;
      const plain = document.querySelector('h1')!;
      const measure = (element: Element) => {
        const samples: number[] = [];
        for (let i = 0; i < clicks; i += 1) {
          const started = performance.now();
          element.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true, button: 0 }));
          samples.push(performance.now() - started);
        }
        return samples.sort((a, b) => a - b);
      };
      measure(plain); // warm-up
      return { tracked: measure(target), ignored: measure(plain) };
    }, CLICKS);
    // Main-thread time including the export that follows each click (Chrome's TaskDuration,
    // summed over the page's main thread), per click, against clicks the SDK ignores.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const taskSeconds = async () => {
      const { metrics } = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] };
      return metrics.find((m) => m.name === 'TaskDuration')!.value;
    };
    const perClick = async (selector: string) => {
      const before = await taskSeconds();
      await page.evaluate(
        async ([css, clicks]) => {
          const element = document.querySelector(css as string)!;
          for (let i = 0; i < (clicks as number); i += 1) {
            element.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true, button: 0 }));
            await (window as unknown as { VariantLens?: { flush(): Promise<void> } }).VariantLens?.flush();
          }
        },
        [selector, CLICKS / 4] as const,
      );
      return ((await taskSeconds()) - before) * 1000 / (CLICKS / 4);
    };
    const withExportMs = await perClick('[data-rec-content-id]');
    const ignoredWithFlushMs = await perClick('h1');
    const median = (values: number[]) => values[Math.floor(values.length / 2)]!;
    const p95 = (values: number[]) => values[Math.floor(values.length * 0.95)]!;
    const summary = {
      gzipBytes,
      sizeBudgetBytes: SIZE_BUDGET_BYTES,
      clickMedianMs: median(timings.tracked),
      clickP95Ms: p95(timings.tracked),
      untrackedMedianMs: median(timings.ignored),
      clickWithExportMs: withExportMs,
      ignoredClickWithFlushMs: ignoredWithFlushMs,
      clickBudgetMs: CLICK_BUDGET_MS,
    };
    printTable(`SDK: size (gzip -9) and main-thread cost of a tracked click over ${CLICKS} clicks in Chromium`, [summary]);
    console.log(`written ${writeResult('sdk', { summary })}`);
    return summary;
  } finally {
    await browser.close();
    await server.stop();
  }
}
