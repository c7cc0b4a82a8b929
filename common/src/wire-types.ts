/**
 * The shapes the HTTP API sends, declared once: the server builds them, and the dashboard,
 * the e2e tests and a team's own tools read them.
 */

/** A span as the API returns it. */
export interface StoredSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  kind: number;
  service: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  durationMs: number;
  status: { code: number; message: string };
  attributes: Record<string, unknown>;
  links: unknown[];
  events: unknown[];
  trusted: boolean;
}

/** A metric point as the API returns it. */
export interface StoredMetricPoint {
  service: string;
  name: string;
  unit: string;
  kind: string;
  temporality: number;
  attributes: Record<string, unknown>;
  startTimeUnixNano: string;
  timeUnixNano: string;
  value: number | null;
  count: number | null;
  sum: number | null;
  bucketCounts: number[] | null;
  explicitBounds: number[] | null;
  trusted: boolean;
}

/** One recommendation of a served list. */
export interface Recommendation {
  readonly contentId: string;
  readonly title: string;
  /** Where the recommendation links to: the team's own URL, absolute or relative to the page. */
  readonly url: string;
  /** 1-based place in the list; clicks carry it as `recommendation.position`. */
  readonly position: number;
  readonly topic?: string;
  readonly summary?: string;
}

/** `GET /api/recommendations`: the experiment data `recordServed` gives (variant-lens/node) and the list. */
export interface RecommendationResponse {
  /** Unguessable id of the served list; clicks carry it as `recommendation.request_id`. */
  readonly requestId: string;
  /** The visitor's variant of each experiment, by experiment key. */
  readonly experiments: Readonly<Record<string, string>>;
  /** The baggage entries the visit carries, e.g. `experiment.rec_algorithm`. */
  readonly baggage: Readonly<Record<string, string>>;
  /** The server's `recommendation.request` span, linked from the click; null when not sampled. */
  readonly trace?: { readonly traceId: string; readonly spanId: string } | null;
  readonly recommendations: readonly Recommendation[];
}
