/**
 * The feature store as its own process and service (`service.name` feature-store). Started
 * by the variant-lens server (`npm start`), or on its own with `node
 * dist/server/src/demo/feature-store/index.js` and the server's `INTERNAL_TELEMETRY_TOKEN`. It
 * listens on `FEATURE_STORE_HOST` (loopback by default) and answers only callers with that
 * token; its telemetry goes to the server's OTLP endpoint with the same token, so it is
 * stored as trusted.
 */
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ConfigError, readExperimentsFile } from '../../collector.js';
import { loadExperiments, startTelemetry } from '../../node/index.js';
import { ContentStore } from '../catalogue/content-store.js';
import { createFeatureStoreApp } from './feature-store-app.js';

const SHUTDOWN_TIMEOUT_MS = 10_000;
/** Spans leave in batches this often: short, so a recommendation's trace is whole on the collector within a second. */
const SPAN_DELAY_MS = 200;

function env(name: string, fallback: string): string {
  const value = process.env[name];
  return value === undefined || value === '' ? fallback : value;
}

function integerEnv(name: string, fallback: number, max: number): number {
  const raw = env(name, String(fallback));
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > max) throw new ConfigError(`Configuration: ${name} is invalid, expected an integer from 0 to ${max} (actual: ${raw})`);
  return value;
}

async function main(): Promise<void> {
  const port = integerEnv('FEATURE_STORE_PORT', 3001, 65_535);
  // Loopback by default: it answers visitors' click histories, which are nobody else's business.
  const host = env('FEATURE_STORE_HOST', '127.0.0.1');
  const delayMs = integerEnv('FEATURE_STORE_DELAY_MS', 0, 60_000);
  const dataDir = env('DATA_DIR', './data');
  const telemetryUrl = env('TELEMETRY_URL', 'http://localhost:3000');
  const token = env('INTERNAL_TELEMETRY_TOKEN', '');
  if (token === '') {
    throw new ConfigError('Configuration: INTERNAL_TELEMETRY_TOKEN is required: the feature store answers only the variant-lens server that holds it (set the same value for both)');
  }
  const experiments = loadExperiments(readExperimentsFile(env('EXPERIMENTS_FILE', 'config/experiments.json')));
  // variant-lens/node's telemetry, as any team's service would start it: OTLP/HTTP to the collector with its service token.
  const telemetry = startTelemetry({
    serviceName: env('FEATURE_STORE_SERVICE_NAME', 'feature-store'),
    collectorUrl: telemetryUrl,
    token,
    disabled: env('OTEL_SDK_DISABLED', 'false') === 'true',
    metricIntervalMs: integerEnv('METRIC_INTERVAL_MS', 5000, 3_600_000),
    spanDelayMs: SPAN_DELAY_MS,
  });
  const content = new ContentStore({ path: join(dataDir, 'content.db'), articleCount: 0, userCount: 0, seed: 0, readonly: true });
  const app = createFeatureStoreApp({ content, tracer: telemetry.tracer, meter: telemetry.meter, experiments, token, delayMs });
  const server = app.listen(port, host, (error?: Error) => {
    if (error !== undefined) {
      console.error(`feature store could not listen on ${host} port ${port}: ${error.message}`);
      process.exit(1);
    }
    const actual = (server.address() as AddressInfo).port;
    console.log(`feature store serving on http://${host.includes(':') ? `[${host}]` : host}:${actual}`);
    process.send?.({ type: 'ready', port: actual });
  });
  const stop = () => {
    setTimeout(() => process.exit(1), SHUTDOWN_TIMEOUT_MS).unref();
    server.close();
    server.closeAllConnections();
    telemetry
      .shutdown()
      .catch(() => {})
      .finally(() => {
        content.close();
        process.exit(0);
      });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // When started by the server, leave with it.
  process.on('disconnect', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
