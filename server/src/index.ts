import { ConfigError, loadConfig } from './config.js';
import { startStatelessEndpoint } from './edge/stateless-endpoint.js';
import { startServer } from './server.js';

/** A stuck shutdown must not keep the process alive forever. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  if (config.store === 'none') {
    const endpoint = await startStatelessEndpoint(config);
    console.log(`variant-lens stateless endpoint (STORE=none) on ${endpoint.url}: OTLP/HTTP ${endpoint.url}/v1/traces ${endpoint.url}/v1/metrics`);
    stopOnSignals(() => endpoint.close());
    return;
  }
  const server = await startServer(config);
  console.log(`variant-lens is serving on ${server.url}`);
  console.log(`  demo site   ${server.url}/?user=u00042   (a generated visitor; ?user=ID reads as ID)`);
  console.log(`  dashboard   ${server.url}/dashboard`);
  console.log(`  SDK         ${server.url}/sdk.js`);
  console.log(`  API         ${server.url}/api/recommendations?userId=alice`);
  console.log(`  OTLP/HTTP   ${server.url}/v1/traces  ${server.url}/v1/metrics`);
  console.log(`  data        ${config.dataDir}`);
  stopOnSignals(() => server.close());
}

/** SIGTERM/SIGINT: stop accepting, flush, close; a stuck shutdown exits after `SHUTDOWN_TIMEOUT_MS`. */
function stopOnSignals(close: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping, flushing telemetry, closing the database`);
    setTimeout(() => {
      console.error('shutdown timed out');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('shutdown failed', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
