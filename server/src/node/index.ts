/**
 * `variant-lens/node`: the server side of variant-lens for any Express app — assignment,
 * the baggage guard, the request span, impressions and latency by variant.
 */
export { startTelemetry } from './start-telemetry.js';
export { loadExperiments } from './load-experiments.js';
export { experimentMiddleware, experimentMetricAttributes, getExperimentContext } from './experiment-middleware.js';
export { LATENCY_BUCKETS_MS } from './served-metrics.js';
export { recordServed } from './record-served.js';
export { ExperimentBaggageSpanProcessor, UNVERIFIED_ATTRIBUTE } from './experiment-baggage-span-processor.js';
export type {
  Assignment,
  AssignmentReason,
  ExperimentContext,
  ExperimentDefinition,
  ExperimentMiddlewareOptions,
  Experiments,
  RunningTelemetry,
  ServedExperimentData,
  ServedList,
  TelemetryOptions,
  VisitorExperimentContext,
  VisitorIdFunction,
} from './types.js';
