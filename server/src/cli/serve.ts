/** `variant-lens collector`, and a service run inside the collector (`variant-lens demo`, `npm start`): listen, print the URLs, stop gracefully. */
import { ConfigError, loadConfig, type ServerConfig } from '../config.js';
import { startStatelessEndpoint } from '../edge/stateless-endpoint.js';
import { startServer, type RunningServer } from '../server.js';

/** A stuck shutdown must not keep the process alive forever. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

/** The environment variables both modes read, for `--help`. */
export const ENVIRONMENT_HELP = `Environment:
  PORT                      where to listen (default 3000; 0 picks a free port)
  HOST                      the interface to listen on (default: every interface)
  READ_TOKEN                the read side's token (dashboard, results, traces); generated into DATA_DIR when unset
  DATA_DIR                  folder of the SQLite store (default ./data)
  EXPERIMENTS_FILE          your experiments file (the collector requires it)
  CORS_ORIGINS              origins of your pages that post telemetry: * or a comma-separated list
  SERVICE_TOKENS            bearer tokens of your own services, comma-separated: their OTLP is trusted
  SERVICE_TOKENS_FILE       the same, one token a line (# comments)
  OTLP_FORWARD_URL          an upstream OTLP/HTTP collector every accepted batch is forwarded to
  RETENTION_MAX_AGE_HOURS   spans and points older than this are deleted (default 720)
  OTEL_SDK_DISABLED=true    the server's own telemetry off
The README lists every setting.`;

/** What `serve` starts: the collector, or a team's service run inside it. */
export interface ServeOptions<C extends ServerConfig> {
  /** How the banner names what is served (`collector`, `demo`). */
  readonly name: string;
  /** Parses the environment once; a bad setting throws `ConfigError`. */
  readonly loadConfig: (env: NodeJS.ProcessEnv) => C;
  /** Starts the server and listens. */
  readonly start: (config: C) => Promise<RunningServer>;
  /** Lines printed under the banner: the service's own pages. */
  readonly links?: (url: string) => string[];
}

/** `variant-lens collector`: the collector alone, with the team's experiments file. */
export function serveCollector(): Promise<void> {
  return serve({ name: 'collector', loadConfig: (env) => loadConfig(env, { demo: false }), start: (config) => startServer(config) });
}

/** Starts the server and stops it on SIGTERM/SIGINT: stop accepting, flush, close the database. */
export async function serve<C extends ServerConfig>(options: ServeOptions<C>): Promise<void> {
  try {
    const config = options.loadConfig(process.env);
    if (config.store === 'none') {
      const endpoint = await startStatelessEndpoint(config);
      console.log(`variant-lens stateless endpoint (STORE=none) on ${endpoint.url}: OTLP/HTTP ${endpoint.url}/v1/traces ${endpoint.url}/v1/metrics`);
      stopOnSignals(() => endpoint.close());
      return;
    }
    const server = await options.start(config);
    console.log(`variant-lens is serving on ${server.url} (${options.name})`);
    for (const line of options.links?.(server.url) ?? []) console.log(`  ${line}`);
    const { readToken } = server;
    // As notebook servers do: the link logs a browser in (the token leaves the address at once).
    if (readToken.source === 'env') console.log(`  dashboard   ${server.url}/dashboard   (log in with READ_TOKEN)`);
    else {
      console.log(`  dashboard   ${server.url}/dashboard?token=${encodeURIComponent(readToken.token)}`);
      console.log(`              (read token ${readToken.source.generated ? 'generated and kept' : 'kept'} in ${readToken.source.file}; set READ_TOKEN to choose one)`);
    }
    console.log(`  SDK         ${server.url}/sdk.js`);
    console.log(`  OTLP/HTTP   ${server.url}/v1/traces  ${server.url}/v1/metrics`);
    console.log(`  data        ${config.dataDir}`);
    console.log(`  experiments ${config.experimentsFile}`);
    if (config.serviceTokens.length === 0 && options.name === 'collector') {
      console.log('  no SERVICE_TOKENS: every export is stored as browser-reported (untrusted); set SERVICE_TOKENS for your services');
    }
    stopOnSignals(() => server.close());
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  }
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
