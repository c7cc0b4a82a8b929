/** Types of `variant-lens/node`, the server-side instrumentation any Express app mounts. */
import type { Attributes, Meter, Tracer } from '@opentelemetry/api';
import type { Request } from 'express';
import type { Assignment, AssignmentReason, ExperimentDefinition } from '../core/experiments.js';
import type { VisitorExperimentContext } from '../services/experiment-service.js';

export type { Assignment, AssignmentReason, ExperimentDefinition, VisitorExperimentContext };

/** The experiments of a file, as `loadExperiments` returns them: assignment and the baggage rules. */
export interface Experiments {
  /** Every experiment of the file, defaults filled in. */
  readonly experiments: readonly ExperimentDefinition[];
  /** Whether QA may force variants by query parameter (the file's `allowForcedVariantQuery`). */
  readonly forcedVariantQueryAllowed: boolean;
  /** The visitor's assignment; `forced` is honoured only when the file allows it. */
  assign(visitorId: string, forced?: Readonly<Record<string, string>>): Assignment;
  /** True for keys that may travel in baggage: running experiments' keys and `user.cohort`. */
  isAllowedBaggageKey(key: string): boolean;
  /** Low-cardinality metric attributes: every running experiment's baggage key, `unknown` when absent. */
  metricAttributes(baggage: Readonly<Record<string, string>>): Record<string, string>;
  /**
   * Combines a request's inbound (untrusted) baggage with the visitor's assignment: unknown
   * keys dropped, the assignment wins, disagreements reported; without a visitor nothing is believed.
   */
  visitorContext(visitorId: string | undefined, inbound: Iterable<readonly [string, string]>, forced?: Readonly<Record<string, string>>): VisitorExperimentContext;
}

/** Who a request acts for: a visitor id, or undefined for a request that names none. May throw an error with a 4xx `status`. */
export type VisitorIdFunction = (req: Request) => string | undefined;

/** What `getExperimentContext(req)` returns: what the server stands behind for this request. */
export interface ExperimentContext {
  /** The visitor, when the request named one. */
  readonly visitorId: string | undefined;
  /** Experiment key → the variant the visitor experiences; empty without a visitor. */
  readonly experiments: Readonly<Record<string, string>>;
  /** Experiment key → why (`split` by hash, `targeting_match` when forced, `static`, `default`). */
  readonly reasons: Readonly<Record<string, AssignmentReason>>;
  /** The baggage the server propagates: its own assignment; empty without a visitor. */
  readonly baggage: Readonly<Record<string, string>>;
  /** False when the request named no visitor: its inbound baggage was not believed. */
  readonly verified: boolean;
  /** Allow-listed inbound keys whose value disagreed with the server's assignment. */
  readonly mismatchedKeys: readonly string[];
}

/** Configuration of `experimentMiddleware`. */
export interface ExperimentMiddlewareOptions {
  /** The experiments, from `loadExperiments`. */
  readonly experiments: Experiments;
  /** Who the request acts for (default: nobody, so nothing is assigned or attributed). */
  readonly visitorId?: VisitorIdFunction;
  /** QA overrides, experiment key → variant; honoured only when the file sets `allowForcedVariantQuery` (default none). */
  readonly forcedVariants?: (req: Request) => Readonly<Record<string, string>>;
  /** Tracer of the spans it opens (default: the global tracer provider's `variant-lens`). */
  readonly tracer?: Tracer;
  /** Meter of the mismatch counter, impressions and latency (default: the global meter provider's `variant-lens`). */
  readonly meter?: Meter;
  /** Name of the SERVER span it opens when no HTTP instrumentation opened one (default `METHOD route`). */
  readonly spanName?: string;
  /** Visitors whose assignment is kept between their requests, so it is hashed once (default 10,000; 0 hashes every request). */
  readonly visitorCacheSize?: number;
}

/** What `recordServed` is told about a served list. */
export interface ServedList {
  /** How many recommendations were served. */
  readonly count: number;
  /** The served items' content ids in position order; clicks count only for these. */
  readonly contentIds?: readonly string[];
  /** More attributes for the `recommendation.request` span (the algorithm that ranked, say). */
  readonly attributes?: Attributes;
}

/** What `recordServed` returns: the experiment data the browser SDK needs in the response. */
export interface ServedExperimentData {
  /** Unguessable id of the served list; clicks name it. */
  readonly requestId: string;
  readonly experiments: Readonly<Record<string, string>>;
  readonly baggage: Readonly<Record<string, string>>;
  /** The `recommendation.request` span, so a click can link to it; null when not sampled. */
  readonly trace: { readonly traceId: string; readonly spanId: string } | null;
}

/** Configuration of `startTelemetry`. */
export interface TelemetryOptions {
  /** `service.name` of the spans and metrics. */
  readonly serviceName: string;
  /** Base URL of the variant-lens collector (or any OTLP/HTTP endpoint): `/v1/traces` and `/v1/metrics` are appended. */
  readonly collectorUrl: string;
  /** A service token of the collector's `SERVICE_TOKENS`; without one the telemetry is stored as browser-reported, untrusted. */
  readonly token?: string;
  /** How often metrics are exported, in ms (default 5000). */
  readonly metricIntervalMs?: number;
  /** How often batches of spans are exported, in ms (default 500). */
  readonly spanDelayMs?: number;
  /** With true nothing is registered (default: `OTEL_SDK_DISABLED=true` in the environment). */
  readonly disabled?: boolean;
}

/** What `startTelemetry` started. */
export interface RunningTelemetry {
  readonly tracer: Tracer;
  readonly meter: Meter;
  /** Exports everything pending. */
  flush(): Promise<void>;
  /** Flushes and unregisters everything it registered; calling it twice is harmless. */
  shutdown(): Promise<void>;
}
