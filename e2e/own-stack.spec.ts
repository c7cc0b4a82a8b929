/**
 * variant-lens in a team's own stack, three processes as a team runs them: `variant-lens
 * collector`; a small Express app (e2e/own-stack/app.mjs, not the demo) that imports
 * `variant-lens/node` from the packed tarball installed in a temporary folder; and a static
 * page on a third origin embedding the script tag as the README shows.
 */
import { expect, test } from '@playwright/test';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { E2E_READ_TOKEN, ROOT } from './server-process.js';
import { ATTR, SPAN } from '../common/src/semconv.js';
import { ALGORITHM_KEY } from './experiment-keys.js';

const run = promisify(execFile);
const TOKEN = 'own-stack-service-token-0123456789';
/** Packing and installing the tarball: minutes on a busy machine with a cold npm cache. */
const SETUP_TIMEOUT_MS = 600_000;

/** Spawns `args` and resolves with the first match of `ready` in its stdout. */
async function startProcess(args: string[], options: { cwd: string; env: Record<string, string> }, ready: RegExp): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = ready.exec(output);
      if (match !== null) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}:\n${output}`)));
  });
  return { child, url };
}

function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** The team's page, on its own origin: the README's script tag and a list rendered from the response. */
function pageHtml(collector: string, app: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Our site</title>
<script src="${collector}/sdk.js" data-endpoint="${collector}" data-recommendations-url="${app}/api/recommendations" data-visitor-id="query:user"></script>
</head><body><h1>Our site</h1><ul id="recs"></ul>
<script>
VariantLens.getRecommendations({ limit: 5 }).then(function (response) {
  var list = document.getElementById('recs');
  list.dataset.recRequestId = response.requestId;
  response.recommendations.forEach(function (item) {
    var link = document.createElement('a');
    link.href = item.url; link.textContent = item.title;
    link.dataset.recContentId = item.contentId; link.dataset.recPosition = String(item.position);
    var li = document.createElement('li'); li.append(link); list.append(li);
  });
});
</script></body></html>`;
}

let folder: string;
let collector: { child: ChildProcess; url: string } | undefined;
let app: { child: ChildProcess; url: string } | undefined;
let pageServer: Server;
let pageOrigin: string;

test.beforeAll(async () => {
  test.setTimeout(SETUP_TIMEOUT_MS);
  folder = mkdtempSync(join(tmpdir(), 'variant-lens-own-stack-'));
  // The test command has built dist; pack it as it is (prepack would rebuild it under the running servers).
  await run('npm', ['pack', '--ignore-scripts', '--pack-destination', folder], { cwd: ROOT });
  const tarball = join(folder, readdirSync(folder).find((f) => f.endsWith('.tgz'))!);
  const appDir = join(folder, 'app');
  await run('mkdir', ['-p', appDir]);
  writeFileSync(join(appDir, 'package.json'), JSON.stringify({ name: 'my-recs', private: true, type: 'module' }));
  copyFileSync(join(ROOT, 'e2e/own-stack/app.mjs'), join(appDir, 'app.mjs'));
  copyFileSync(join(ROOT, 'config/experiments.json'), join(appDir, 'experiments.json'));
  // --ignore-scripts: the app needs variant-lens/node only, not the collector's native better-sqlite3 (whose build would fetch Node headers);
  // --omit=optional: nor ClickHouse embedded (chdb, about 540 MB), which only CLICKHOUSE_URL=chdb: loads.
  await run('npm', ['install', '--prefer-offline', '--ignore-scripts', '--omit=optional', '--no-audit', '--no-fund', tarball], { cwd: appDir, timeout: SETUP_TIMEOUT_MS });

  let collectorUrl = '';
  let appUrl = '';
  pageServer = createServer((req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(req.url?.startsWith('/stories/') ? `<!doctype html><title>A story</title><h1>${req.url.slice('/stories/'.length).replace(/[^a-z0-9-]/g, '')}</h1>` : pageHtml(collectorUrl, appUrl));
  });
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve));
  pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;
  collector = await startProcess(
    [join(ROOT, 'dist/server/src/cli/variant-lens.js'), 'collector'],
    {
      cwd: folder,
      env: { PORT: '0', DATA_DIR: join(folder, 'data'), EXPERIMENTS_FILE: join(appDir, 'experiments.json'), SERVICE_TOKENS: TOKEN, CORS_ORIGINS: pageOrigin, METRIC_INTERVAL_MS: '1000', READ_TOKEN: E2E_READ_TOKEN },
    },
    /variant-lens is serving on (http:\/\/localhost:\d+)/,
  );
  collectorUrl = collector.url;
  app = await startProcess(['app.mjs'], { cwd: appDir, env: { PORT: '0', COLLECTOR_URL: collectorUrl, VARIANT_LENS_TOKEN: TOKEN, PAGE_ORIGIN: pageOrigin } }, /my-recs listening on (http:\/\/[\d.:]+)/);
  appUrl = app.url;
});

test.afterAll(async () => {
  await stopProcess(app?.child);
  await stopProcess(collector?.child);
  pageServer?.close();
  rmSync(folder, { recursive: true, force: true });
});

test('a click on a page of the team\'s site counts for the visitor\'s variant, on the team\'s own recommendations', async ({ page }) => {
  const recommendations = page.waitForResponse((r) => r.url().startsWith(`${app!.url}/api/recommendations`));
  await page.goto(`${pageOrigin}/?user=own-stack-visitor`);
  const response = await recommendations;
  // The SDK propagated to the recommendations service's origin, so the browser's span and the app's are one trace.
  const traceparent = (await response.request().allHeaders())['traceparent'];
  expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  const served = await response.json();
  const variant = served.experiments.rec_algorithm_v3;
  expect(['control', 'collaborative', 'hybrid']).toContain(variant);
  expect(served.trace.traceId).toBe(traceparent!.split('-')[1]);

  // The click's OTLP leaves as the page unloads (keepalive); Chromium does not always show it to
  // Playwright before the navigation, so the click is looked for in the collector's results.
  await page.getByRole('link', { name: served.recommendations[1].title, exact: true }).click();
  await page.waitForURL(`${pageOrigin}/stories/${served.recommendations[1].contentId}`);

  await expect
    .poll(async () => {
      const results = await (await fetch(`${collector!.url}/api/experiments/rec_algorithm_v3/results`, { headers: { authorization: `Bearer ${E2E_READ_TOKEN}` } })).json();
      return results.variants.find((v: { variant: string }) => v.variant === variant)?.clicks;
    }, { timeout: 30_000 })
    .toBe(1);

  // The app's spans are trusted (its service token) and carry the variant, in the browser's trace (the
  // traceparent checked above). The browser's own fetch span is not looked for: it leaves in the SDK's
  // batch as the page unloads, and the story page it navigates to has no SDK to resend it.
  type TraceSpan = { name: string; service: string; trusted: boolean };
  const traceResponse = await fetch(`${collector!.url}/api/traces/${served.trace.traceId}`, { headers: { authorization: `Bearer ${E2E_READ_TOKEN}` } });
  const request = ((await traceResponse.json()) as { spans: TraceSpan[] }).spans.find((s) => s.name === SPAN.REQUEST);
  expect(request).toMatchObject({ service: 'my-recs', trusted: true, attributes: { [ALGORITHM_KEY]: variant, [ATTR.REQUEST_ID]: served.requestId } });
});
