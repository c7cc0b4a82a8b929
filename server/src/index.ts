import { ConfigError, loadConfig } from './config.js';
import { startServer } from './server.js';

/** A stuck shutdown must not keep the process alive forever. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const server = await startServer(config);
  console.log(`variant-lens is serving on ${server.url}`);
  console.log(`  demo site   ${server.url}/?user=u00042   (a generated visitor; ?user=ID reads as ID)`);
  const { readToken } = server;
  // As notebook servers do: the link logs a browser in (the token leaves the address at once).
  if (readToken.source === 'env') console.log(`  dashboard   ${server.url}/dashboard   (log in with READ_TOKEN)`);
  else {
    console.log(`  dashboard   ${server.url}/dashboard?token=${encodeURIComponent(readToken.token)}`);
    console.log(`              (read token ${readToken.source.generated ? 'generated and kept' : 'kept'} in ${readToken.source.file}; set READ_TOKEN to choose one)`);
  }
  console.log(`  SDK         ${server.url}/sdk.js`);
  console.log(`  API         ${server.url}/api/recommendations?userId=alice`);
  console.log(`  OTLP/HTTP   ${server.url}/v1/traces  ${server.url}/v1/metrics`);
  console.log(`  data        ${config.dataDir}`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping, flushing telemetry, closing the database`);
    setTimeout(() => {
      console.error('shutdown timed out');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    server.close().then(
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
