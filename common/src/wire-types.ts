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
