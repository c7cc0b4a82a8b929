/**
 * The collector as a library: what `npx variant-lens collector` runs, and what a team's own
 * service uses to run inside the collector's process with its routes mounted (the demo does,
 * through this entry and `variant-lens/node` only). Named exports, no `export *`.
 */
export { startServer as startCollector } from './server.js';
export type { CollectorContext, CollectorExtension, RunningServer } from './server.js';
export { ConfigError, host as hostSetting, httpUrl as httpUrlSetting, integer as integerSetting, loadConfig, readExperimentsFile } from './config.js';
export type { ServerConfig } from './config.js';
export { serve } from './cli/serve.js';
export type { ServeOptions } from './cli/serve.js';
export { builtPage } from './routes/static-routes.js';
export { errorHandler, HttpError, notFound, parseLimit } from './http/http-error.js';
export { bearerToken, matchesSecret, secretDigest } from './http/secret.js';
