import { hostSetting, httpUrlSetting, integerSetting, loadConfig, type ServerConfig } from '../collector.js';
import { DEFAULT_CACHE_CONFIG } from './recommendations/cache-config.js';

/** The demo's settings, on top of the collector's it runs inside. */
export interface DemoConfig extends ServerConfig {
  /** `FEATURE_STORE_PORT`: where the feature store the server starts listens (default 3001; 0 picks a free port). */
  readonly featureStorePort: number;
  /** `FEATURE_STORE_HOST`: the address the feature store the server starts listens on (default 127.0.0.1: only this machine). */
  readonly featureStoreHost: string;
  /** `FEATURE_STORE_URL`: use an already running feature store instead of starting one. */
  readonly featureStoreUrl: string | undefined;
  /** `FEATURE_STORE_TIMEOUT_MS`: after this, recommendations degrade to control (default 250). */
  readonly featureStoreTimeoutMs: number;
  /** `FEATURES_CACHE_TTL_MS`: how long a visitor's features are reused; 0 asks the feature store on every request (default 30,000). */
  readonly featuresCacheTtlMs: number;
  /** `CONTENT_CACHE_TTL_MS`: how long candidate pools, neighbours and articles read from the content database are reused; 0 reads them on every request (default 60,000). */
  readonly contentCacheTtlMs: number;
  /** `FEATURE_STORE_DELAY_MS`: latency added by the feature store, for demonstrations (default 0). */
  readonly featureStoreDelayMs: number;
}

/** Parses the environment for the demo: the collector's settings (the package's experiments file by default) and the demo's; throws `ConfigError` naming the first bad variable. */
export function loadDemoConfig(env: NodeJS.ProcessEnv): DemoConfig {
  return {
    ...loadConfig(env, { demo: true }),
    featureStorePort: integerSetting(env, 'FEATURE_STORE_PORT', 3001, 0, 65_535),
    featureStoreHost: hostSetting(env, 'FEATURE_STORE_HOST', '127.0.0.1')!,
    featureStoreUrl: env.FEATURE_STORE_URL ? httpUrlSetting(env.FEATURE_STORE_URL, 'FEATURE_STORE_URL') : undefined,
    featureStoreTimeoutMs: integerSetting(env, 'FEATURE_STORE_TIMEOUT_MS', 250, 1, 60_000),
    featuresCacheTtlMs: integerSetting(env, 'FEATURES_CACHE_TTL_MS', DEFAULT_CACHE_CONFIG.featuresTtlMs, 0, 86_400_000),
    contentCacheTtlMs: integerSetting(env, 'CONTENT_CACHE_TTL_MS', DEFAULT_CACHE_CONFIG.contentTtlMs, 0, 86_400_000),
    featureStoreDelayMs: integerSetting(env, 'FEATURE_STORE_DELAY_MS', 0, 0, 60_000),
  };
}
