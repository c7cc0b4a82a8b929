/** variant-lens browser SDK, as an ES module: `import { init } from 'variant-lens/client'`. */
import { diag } from '@opentelemetry/api';
import { resolveConfig, type VariantLensConfig } from './config.js';
import { VariantLens } from './variant-lens.js';

export { VariantLens } from './variant-lens.js';
export type { Recommendation, RecommendationResponse, RecommendationsRequest } from './variant-lens.js';
export type { ExperimentData } from './visit-memory.js';
export { configFromDataset, resolveConfig, ConfigurationError } from './config.js';
export type { VariantLensConfig, VisitorIdSource } from './config.js';

/** Starts the SDK once per page; later calls return the same instance. */
let instance: VariantLens | undefined;

export function init(options: Partial<VariantLensConfig> = {}): VariantLens | undefined {
  if (instance !== undefined) return instance;
  try {
    instance = new VariantLens(resolveConfig(options, window.location.origin));
  } catch (error) {
    // Never throw into the host page: a broken configuration only disables the SDK.
    diag.error('variant-lens: not started', error);
    console.warn('variant-lens: not started:', (error as Error).message);
  }
  return instance;
}
