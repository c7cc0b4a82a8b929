/**
 * The names variant-lens telemetry uses, in one place: the server, the browser SDK, the
 * analysis, the dashboard and the tests import them from here (as OpenTelemetry's own
 * semantic-conventions packages export theirs). Changing one is changing the telemetry
 * contract (docs/telemetry-contract.md).
 *
 * Each name the browser SDK uses is also its own constant (as in
 * `@opentelemetry/semantic-conventions`), so the script-tag bundle carries only those it
 * uses: a bundler keeps a whole object literal once any member is read.
 */

/** `recommendation.click` span: a browser's click on a recommendation. */
export const SPAN_CLICK = 'recommendation.click';
/** `recommendation.view` span: a browser's viewable impression of a recommendation. */
export const SPAN_VIEW = 'recommendation.view';
/** Prefix of every experiment attribute and baggage key. */
export const ATTR_EXPERIMENT_PREFIX = 'experiment.';
export const ATTR_SERVICE_NAME = 'service.name';
export const ATTR_SESSION_ID = 'session.id';
export const ATTR_REQUEST_ID = 'recommendation.request_id';
export const ATTR_POSITION = 'recommendation.position';
export const ATTR_CONTENT_ID = 'content.id';
/** Counter of clicks (browser). */
export const METRIC_CLICK_THROUGH = 'recommendation.click_through';
/** Counter of viewable impressions (browser). */
export const METRIC_VIEWABLE_IMPRESSIONS = 'recommendation.viewable_impressions';

/** Span names. */
export const SPAN = {
  /** The server's record of one served list (trusted). */
  REQUEST: 'recommendation.request',
  /** A browser's click on a recommendation (untrusted). */
  CLICK: SPAN_CLICK,
  /** A browser's viewable impression of a recommendation (untrusted). */
  VIEW: SPAN_VIEW,
  /** The demo feature store's one span per call. */
  FEATURE_STORE_GET: 'feature_store.get_features',
} as const;

/** Span event names. */
export const EVENT = {
  /** One per experiment decided for a request (feature-flag semantic conventions). */
  FEATURE_FLAG_EVALUATION: 'feature_flag.evaluation',
} as const;

/** Attribute keys. */
export const ATTR = {
  /** Prefix of every experiment attribute and baggage key (`experiment.<name>` = variant). */
  EXPERIMENT_PREFIX: ATTR_EXPERIMENT_PREFIX,
  /** True on a request whose variant was forced (QA): out of every comparison. */
  EXPERIMENT_FORCED: 'experiment.forced',
  /** Resource: the service that sent the telemetry (OpenTelemetry's own name). */
  SERVICE_NAME: ATTR_SERVICE_NAME,
  USER_ID: 'user.id',
  USER_COHORT: 'user.cohort',
  SESSION_ID: ATTR_SESSION_ID,
  REQUEST_ID: ATTR_REQUEST_ID,
  COUNT: 'recommendation.count',
  /** The content ids a request served, in position order (string array). */
  CONTENT_IDS: 'recommendation.content_ids',
  POSITION: ATTR_POSITION,
  CONTENT_ID: ATTR_CONTENT_ID,
  CACHE_HITS: 'cache.hits',
  CACHE_MISSES: 'cache.misses',
  FEATURE_FLAG_KEY: 'feature_flag.key',
  FEATURE_FLAG_VARIANT: 'feature_flag.result.variant',
  FEATURE_FLAG_PROVIDER: 'feature_flag.provider.name',
  FEATURE_FLAG_REASON: 'feature_flag.result.reason',
} as const;

/** Metric names. */
export const METRIC = {
  /** Counter, += recommendations served (server). */
  IMPRESSIONS: 'recommendation.impressions',
  /** Histogram of request latency, ms (server). */
  LATENCY: 'recommendation.latency',
  /** Counter of clicks (browser). */
  CLICK_THROUGH: METRIC_CLICK_THROUGH,
  /** Counter of viewable impressions (browser). */
  VIEWABLE_IMPRESSIONS: METRIC_VIEWABLE_IMPRESSIONS,
} as const;

/** `feature_flag.result.reason` of a variant assigned by the hash: the only one the analysis compares. */
export const SPLIT_REASON = 'split';
