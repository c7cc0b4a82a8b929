/**
 * The e2e suite's page objects and helpers, handed to the tests as Playwright fixtures:
 * `demoHome` and `articlePage` (the demo content site), `sdkPage` (a bare page embedding the
 * script tag with chosen attributes), `dashboard` (the results page), `telemetry` (the
 * server's read APIs) and `ownServer` (a server process of the test's own). Every wait is on
 * a request, a response or a polled condition, never on time.
 */
import { test as base, expect, type APIRequestContext, type Locator, type Page, type Request } from '@playwright/test';
import type { ExperimentResults } from '../common/src/experiment-results.js';
import type { RecommendationResponse, StoredMetricPoint, StoredSpan } from '../common/src/wire-types.js';
import { E2E_READ_TOKEN, startServerProcess, type ServerProcess } from './server-process.js';
import { METRIC, SPAN } from '../common/src/semconv.js';

export { E2E_READ_TOKEN, expect };

/** The header that opens the read side to an API client. */
export const READ_HEADERS = { authorization: `Bearer ${E2E_READ_TOKEN}` } as const;

/**
 * Logs the page's browser in to the read side (on `origin`, default the suite's server) the way
 * a person does: by the link the server prints, which sets the cookie and drops the token.
 */
export async function logIn(page: Page, origin = '', path = '/dashboard'): Promise<void> {
  const separator = path.includes('?') ? '&' : '?';
  await page.goto(`${origin}${path}${separator}token=${encodeURIComponent(E2E_READ_TOKEN)}`);
  await expect(page).not.toHaveURL(/[?&]token=/);
}
export type { ExperimentResults, RecommendationResponse, StoredMetricPoint, StoredSpan };

/** The body of `GET /api/recommendations`. */
export type Served = RecommendationResponse;

/** The body of `GET /api/assignments`. */
export interface Assignments {
  readonly userId: string;
  readonly experiments: Record<string, string>;
  readonly baggage: Record<string, string>;
}

/** The bodies of the batches the SDK has not seen delivered, kept for a later page (one localStorage key each). */
export function unsentBatches(page: Page): Promise<string> {
  return page.evaluate(() =>
    Object.keys(localStorage)
      .filter((key) => key.startsWith('variant-lens.unsent:'))
      .map((key) => localStorage.getItem(key) ?? '')
      .join('\n'),
  );
}

/** Telemetry lands within a few export intervals; polls give it this long. */
const TELEMETRY_TIMEOUT_MS = 15_000;

/** `kind` of a SERVER span in the store (OTLP's SpanKind numbering). */
export const SERVER_KIND = 2;

/** A request for the recommendations of a rail. */
export function isRecommendations(request: Request): boolean {
  return new URL(request.url()).pathname === '/api/recommendations';
}

/** An OTLP post from the browser SDK. */
export function isTelemetry(request: Request): boolean {
  return /\/v1\/(traces|metrics)$/.test(new URL(request.url()).pathname);
}

/** An OTLP post carrying the given span or metric name. */
function carries(request: Request, name: string): boolean {
  return isTelemetry(request) && (request.postData() ?? '').includes(`"${name}"`);
}

/** The trace id a request's `traceparent` names (and asserts it is well formed). */
export function traceIdOf(request: Request): string {
  const traceparent = request.headers()['traceparent'];
  expect(traceparent, `${request.url()} carried no traceparent`).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  return traceparent!.split('-')[1]!;
}

/** A served rail as the page rendered it: the SPEC markup the SDK tracks. */
export class Rail {
  /** The container, `data-rec-request-id`. */
  readonly container: Locator;
  /** The recommendation links, `data-rec-content-id` and `data-rec-position`. */
  readonly links: Locator;

  constructor(scope: Page | Locator) {
    this.container = scope.locator('[data-rec-request-id]');
    this.links = this.container.locator('[data-rec-content-id]');
  }

  /** The recommendation at a 1-based position. */
  link(position: number): Locator {
    return this.container.locator(`[data-rec-position="${position}"]`);
  }
}

/** What a middle-click on a recommendation sent: the SDK's OTLP posts for it. */
export interface SentClick {
  readonly contentId: string;
  /** The `/v1/traces` post with the `recommendation.click` span. */
  readonly spans: Request;
  /** The `/v1/metrics` post with `recommendation.click_through`. */
  readonly metrics: Request;
}

/** A page whose rail the SDK fetched; shared by the demo's home page and the SDK test page. */
abstract class RailPage {
  readonly rail: Rail;

  constructor(readonly page: Page) {
    this.rail = new Rail(page);
  }

  /** Navigates to `url` and resolves with the rail's recommendations request and response body. */
  protected async load(url: string): Promise<{ request: Request; served: Served }> {
    const response = this.page.waitForResponse((r) => isRecommendations(r.request()));
    await this.page.goto(url);
    const answered = await response;
    expect(answered.status()).toBe(200);
    return { request: answered.request(), served: (await answered.json()) as Served };
  }

  /**
   * Follows the recommendation at `position` with a primary click and resolves with its
   * content id once the article page is the one shown. The click's OTLP posts leave as the
   * page unloads (keepalive): the server gets them, but Chromium does not always report
   * them to Playwright before the navigation, so tests find the click in the store
   * (`telemetry`), not in the page's requests.
   */
  async openRecommendation(position: number): Promise<string> {
    const link = this.rail.link(position);
    const contentId = (await link.getAttribute('data-rec-content-id'))!;
    const articleResponse = this.page.waitForResponse((r) => new URL(r.url()).pathname === `/articles/${contentId}`);
    await link.click();
    expect((await articleResponse).status()).toBe(200);
    return contentId;
  }

  /** Middle-clicks the recommendation at `position` (the page stays) and resolves once the SDK has posted its span and counter. */
  async middleClick(position: number): Promise<SentClick> {
    const link = this.rail.link(position);
    const contentId = (await link.getAttribute('data-rec-content-id'))!;
    const spans = this.page.waitForRequest((r) => carries(r, SPAN.CLICK));
    const metrics = this.page.waitForRequest((r) => carries(r, METRIC.CLICK_THROUGH));
    await link.click({ button: 'middle' });
    return { contentId, spans: await spans, metrics: await metrics };
  }
}

/** The demo site's home page: a hero and the "Recommended for you" rail. */
export class DemoHome extends RailPage {
  /** Opens `/?user=<userId>` (on `origin`, default the suite's server) and waits for the rail's recommendations. */
  open(userId: string, origin = ''): Promise<{ request: Request; served: Served }> {
    return this.load(`${origin}/?user=${encodeURIComponent(userId)}`);
  }

  /** Reloads the page and waits for the rail's recommendations again. */
  async reload(): Promise<{ request: Request; served: Served }> {
    const response = this.page.waitForResponse((r) => isRecommendations(r.request()));
    await this.page.reload();
    const answered = await response;
    return { request: answered.request(), served: (await answered.json()) as Served };
  }
}

/** The demo site's article page, `/articles/:id`. */
export class ArticlePage {
  readonly heading: Locator;
  /** The "Read next" rail. */
  readonly readNext: Rail;

  constructor(readonly page: Page) {
    this.heading = page.getByRole('heading', { level: 1 });
    this.readNext = new Rail(page);
  }

  /** Resolves with the page's `fetch('/api/content/:id')` once it has been sent (call before navigating). */
  waitForContentRequest(): Promise<Request> {
    return this.page.waitForRequest((r) => new URL(r.url()).pathname.startsWith('/api/content/'));
  }

  /** Resolves with the "Read next" rail's recommendations request (call before navigating, after the previous page's rail). */
  waitForRailRequest(): Promise<Request> {
    return this.page.waitForRequest(isRecommendations);
  }

  /** Asserts that the article `contentId` is the page shown. */
  async expectShown(contentId: string): Promise<void> {
    await expect(this.page).toHaveURL(new RegExp(`/articles/${contentId}$`));
    await expect(this.heading).toBeVisible();
  }
}

/**
 * A page of the suite's origin that embeds `/sdk.js` with the given data attributes and
 * renders a rail of six with the SPEC markup (no demo-site code involved).
 */
export class SdkPage extends RailPage {
  async open(userId: string, attributes = ''): Promise<{ request: Request; served: Served }> {
    const html = `<!doctype html><html><head><meta charset="utf-8">
      <script src="/sdk.js" data-visitor-id="fixed:${userId}" ${attributes}></script></head>
      <body><ol id="rail"></ol><script>
        VariantLens.getRecommendations({ limit: 6 }).then((r) => {
          const list = document.getElementById('rail');
          list.setAttribute('data-rec-request-id', r.requestId);
          for (const rec of r.recommendations) {
            const li = document.createElement('li');
            const a = document.createElement('a');
            a.href = rec.url; a.textContent = rec.title;
            a.setAttribute('data-rec-content-id', rec.contentId);
            a.setAttribute('data-rec-position', String(rec.position));
            li.append(a); list.append(li);
          }
        });
      </script></body></html>`;
    await this.page.route('**/e2e-sdk-page', (route) => route.fulfill({ contentType: 'text/html', body: html }));
    const loaded = await this.load('/e2e-sdk-page');
    await expect(this.rail.links).toHaveCount(6);
    return loaded;
  }

  /** Sends what the SDK holds now (`VariantLens.flush()`). */
  flush(): Promise<void> {
    return this.page.evaluate(() => window.VariantLens!.flush());
  }
}

/** Columns of the results table that test click-through against the control; `significant` marks p (Holm) < 0.05. */
export const CTR_SIGNIFICANCE_COLUMNS = ['lift vs control', 'p (Holm)'] as const;

/** The results page, `/dashboard`: one section per experiment, its tables one row per variant. */
export class Dashboard {
  constructor(readonly page: Page) {}

  /** Logs in by the link and opens the dashboard (on `origin`, default the suite's server), and waits for its first results. */
  async open(origin = ''): Promise<void> {
    const results = this.page.waitForResponse((r) => /\/api\/experiments\/[^/]+\/results/.test(r.url()));
    await logIn(this.page, origin);
    expect((await results).status()).toBe(200);
  }

  /** An experiment's section. */
  experiment(key: string): Locator {
    return this.page.locator(`section[data-experiment="${key}"]`);
  }

  /** The cell of a variant's row under the column headed `column` (e.g. `clicks`, `p (Holm)`), in whichever table has it. */
  async cell(key: string, variant: string, column: string): Promise<Locator> {
    const tables = this.experiment(key).locator('table');
    await expect(tables.first()).toBeVisible();
    for (const table of await tables.all()) {
      const index = (await table.locator('thead th').allTextContents()).indexOf(column);
      if (index >= 0) return table.locator(`tr[data-variant="${variant}"] td`).nth(index);
    }
    throw new Error(`the results tables of ${key} have no column "${column}"`);
  }
}

/** The server's read APIs over stored telemetry (`/api/spans`, `/api/traces`, `/api/metrics`, results), called with the read token. */
export class Telemetry {
  constructor(
    private readonly api: APIRequestContext,
    /** The server's origin; empty for the suite's own (the `baseURL`). */
    readonly origin = '',
  ) {}

  /** The same APIs on another server. */
  at(origin: string): Telemetry {
    return new Telemetry(this.api, origin);
  }

  private async json<T>(path: string): Promise<T> {
    const response = await this.api.get(`${this.origin}${path}`, { headers: READ_HEADERS });
    expect(response.status(), `GET ${path}`).toBe(200);
    return (await response.json()) as T;
  }

  /** The spans of a trace; none while nothing of it is stored. */
  async trace(traceId: string): Promise<StoredSpan[]> {
    const response = await this.api.get(`${this.origin}/api/traces/${traceId}`, { headers: READ_HEADERS });
    if (response.status() === 404) return [];
    expect(response.status()).toBe(200);
    return ((await response.json()) as { spans: StoredSpan[] }).spans;
  }

  /** Polls until the trace holds a span that matches, and returns it. */
  async spanIn(traceId: string, matches: (span: StoredSpan) => boolean, what: string): Promise<StoredSpan> {
    let found: StoredSpan | undefined;
    await expect
      .poll(async () => (found = (await this.trace(traceId)).find(matches)) !== undefined, { message: `${what} in trace ${traceId}`, timeout: TELEMETRY_TIMEOUT_MS })
      .toBe(true);
    return found!;
  }

  /** Stored spans with that name whose `recommendation.request_id` is `requestId`. */
  async spans(name: string, requestId: string): Promise<StoredSpan[]> {
    return (await this.json<{ spans: StoredSpan[] }>(`/api/spans?name=${encodeURIComponent(name)}&requestId=${encodeURIComponent(requestId)}`)).spans;
  }

  /** Polls until exactly `count` such spans are stored, and returns them. */
  async expectSpans(name: string, requestId: string, count: number): Promise<StoredSpan[]> {
    await expect.poll(async () => (await this.spans(name, requestId)).length, { message: `${name} spans of ${requestId}`, timeout: TELEMETRY_TIMEOUT_MS }).toBe(count);
    return this.spans(name, requestId);
  }

  /** The newest stored points of a metric. */
  async points(metric: string): Promise<StoredMetricPoint[]> {
    return (await this.json<{ points: StoredMetricPoint[] }>(`/api/metrics/${encodeURIComponent(metric)}`)).points;
  }

  /** `GET /api/experiments/:key/results`. */
  results(key: string): Promise<ExperimentResults> {
    return this.json<ExperimentResults>(`/api/experiments/${encodeURIComponent(key)}/results`);
  }

  /** `GET /api/assignments?userId=`. */
  assignments(userId: string): Promise<Assignments> {
    return this.json<Assignments>(`/api/assignments?userId=${encodeURIComponent(userId)}`);
  }
}

interface Fixtures {
  demoHome: DemoHome;
  articlePage: ArticlePage;
  sdkPage: SdkPage;
  dashboard: Dashboard;
  telemetry: Telemetry;
  /** A server process of this test's own with a fresh store, stopped when the test ends. */
  ownServer: ServerProcess;
}

export const test = base.extend<Fixtures>({
  demoHome: async ({ page }, use) => use(new DemoHome(page)),
  articlePage: async ({ page }, use) => use(new ArticlePage(page)),
  sdkPage: async ({ page }, use) => use(new SdkPage(page)),
  dashboard: async ({ page }, use) => use(new Dashboard(page)),
  telemetry: async ({ request }, use) => use(new Telemetry(request)),
  // eslint-disable-next-line no-empty-pattern -- Playwright requires the destructuring even with no dependencies.
  ownServer: async ({}, use) => {
    const server = await startServerProcess();
    try {
      await use(server);
    } finally {
      await server.stop();
    }
  },
});
