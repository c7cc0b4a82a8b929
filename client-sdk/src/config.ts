/** Configuration of the browser SDK: one interface, defaults in one place. */

/** How the SDK learns who the visitor is. */
export type VisitorIdSource =
  /** Read this query parameter (kept for the visit), else fall back to an anonymous id. */
  | { readonly kind: 'query'; readonly param: string }
  /** A fixed id given by the page. */
  | { readonly kind: 'fixed'; readonly id: string }
  /** A random anonymous id kept in localStorage. */
  | { readonly kind: 'anonymous' };

export interface VariantLensConfig {
  /** Base URL of the variant-lens server: OTLP goes to `${endpoint}/v1/*` and the API is under `${endpoint}/api`. Default: this page's origin. */
  readonly endpoint: string;
  /** `service.name` of the browser telemetry. Default `content-site`. */
  readonly serviceName: string;
  /** Where `getRecommendations()` asks, absolute or relative to the page. Default `${endpoint}/api/recommendations`. */
  readonly recommendationsUrl: string;
  /**
   * Origins whose fetches get `traceparent` and `baggage`. The page's own origin, the
   * endpoint's and the recommendations URL's always do; list the others here.
   */
  readonly propagateTo: readonly string[];
  /** How the visitor id is obtained. Default: the `user` query parameter, else anonymous. */
  readonly visitorId: VisitorIdSource;
  /** Track clicks and viewable impressions of `[data-rec-content-id]` automatically. Default true. */
  readonly autoTrack: boolean;
  /** `granted` sends; `pending` holds everything until `setConsent(true)`; `denied` sends nothing. Default granted. */
  readonly consent: 'granted' | 'pending' | 'denied';
  /** Treat a browser's Global Privacy Control signal as consent denied. Default false. */
  readonly respectGpc: boolean;
  /** How long spans wait to be batched before export, in ms. */
  readonly spanBatchDelayMs: number;
  /** How often metrics are exported, in ms. */
  readonly metricIntervalMs: number;
}

/** Spans are sent after a second so that a click is visible quickly without one request per span. */
const DEFAULT_SPAN_BATCH_DELAY_MS = 1000;
/** Metrics every 10 s; clicks also flush at once. */
const DEFAULT_METRIC_INTERVAL_MS = 10_000;

/** Thrown for an invalid option; the script tag logs it instead of throwing into the page. */
export class ConfigurationError extends Error {}

/** The error for an option the page set wrongly; `option` as the page wrote it. */
function invalid(option: string, expected: string, actual: string): ConfigurationError {
  return new ConfigurationError(`Configuration: ${option} is invalid, expected ${expected} (actual: ${actual})`);
}

function originOf(value: string, option: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw invalid(option, 'an absolute http(s) URL', value);
  }
  return url.origin;
}

/** Fills in the defaults for the options the page did not set. */
export function resolveConfig(partial: Partial<VariantLensConfig>, pageOrigin: string): VariantLensConfig {
  const requested = partial.endpoint ?? pageOrigin;
  originOf(requested, 'endpoint');
  const endpoint = requested.replace(/\/+$/, '');
  const recommendationsUrl = partial.recommendationsUrl ?? `${endpoint}/api/recommendations`;
  // Relative to the page when not absolute; URL() of a string that is no URL at all throws, and originOf names the option.
  const recommendationsOrigin = originOf(URL.canParse(recommendationsUrl, `${pageOrigin}/`) ? new URL(recommendationsUrl, `${pageOrigin}/`).href : recommendationsUrl, 'recommendationsUrl');
  const listed = (partial.propagateTo ?? []).map((o) => originOf(o, 'propagateTo'));
  // The endpoint's own API and the recommendations service are where a visit's traces continue.
  // (The page's own origin always gets them, so it is not listed.)
  const page = originOf(pageOrigin, 'page origin');
  const propagateTo = [...new Set([...listed, originOf(endpoint, 'endpoint'), recommendationsOrigin])].filter((origin) => origin !== page);
  return {
    endpoint,
    recommendationsUrl,
    serviceName: partial.serviceName ?? 'content-site',
    propagateTo,
    visitorId: partial.visitorId ?? { kind: 'query', param: 'user' },
    autoTrack: partial.autoTrack ?? true,
    consent: partial.consent ?? 'granted',
    respectGpc: partial.respectGpc ?? false,
    spanBatchDelayMs: partial.spanBatchDelayMs ?? DEFAULT_SPAN_BATCH_DELAY_MS,
    metricIntervalMs: partial.metricIntervalMs ?? DEFAULT_METRIC_INTERVAL_MS,
  };
}

function parseBoolean(value: string | undefined, option: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true' || value === '') return true;
  if (value === 'false') return false;
  throw invalid(`data-${option}`, 'true or false', value);
}

function parseVisitorId(value: string | undefined): VisitorIdSource | undefined {
  if (value === undefined) return undefined;
  if (value === 'anonymous') return { kind: 'anonymous' };
  if (value.startsWith('query:') && value.length > 'query:'.length) return { kind: 'query', param: value.slice('query:'.length) };
  if (value.startsWith('fixed:') && value.length > 'fixed:'.length) return { kind: 'fixed', id: value.slice('fixed:'.length) };
  throw invalid('data-visitor-id', 'anonymous, query:<param> or fixed:<id>', value);
}

/** Reads the options of a `<script data-*>` tag. */
export function configFromDataset(dataset: Readonly<Record<string, string | undefined>>): Partial<VariantLensConfig> {
  const config: { -readonly [K in keyof VariantLensConfig]?: VariantLensConfig[K] } = {};
  if (dataset.endpoint !== undefined) config.endpoint = dataset.endpoint;
  if (dataset.serviceName !== undefined) config.serviceName = dataset.serviceName;
  if (dataset.recommendationsUrl !== undefined) config.recommendationsUrl = dataset.recommendationsUrl;
  if (dataset.propagateTo !== undefined) {
    config.propagateTo = dataset.propagateTo.split(/[\s,]+/).filter((o) => o !== '');
  }
  const visitorId = parseVisitorId(dataset.visitorId);
  if (visitorId !== undefined) config.visitorId = visitorId;
  const autoTrack = parseBoolean(dataset.autoTrack, 'auto-track');
  if (autoTrack !== undefined) config.autoTrack = autoTrack;
  if (dataset.consent !== undefined) {
    if (dataset.consent !== 'granted' && dataset.consent !== 'pending' && dataset.consent !== 'denied') {
      throw invalid('data-consent', 'granted, pending or denied', dataset.consent);
    }
    config.consent = dataset.consent;
  }
  const respectGpc = parseBoolean(dataset.respectGpc, 'respect-gpc');
  if (respectGpc !== undefined) config.respectGpc = respectGpc;
  return config;
}
