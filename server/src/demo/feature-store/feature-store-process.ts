import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** How the server starts the feature store. */
export interface FeatureStoreProcessConfig {
  readonly port: number;
  /** The address it listens on (`FEATURE_STORE_HOST`, default loopback). */
  readonly host: string;
  readonly dataDir: string;
  readonly experimentsFile: string;
  readonly telemetryUrl: string;
  readonly token: string;
  readonly telemetryDisabled: boolean;
  readonly metricIntervalMs: number;
  readonly delayMs: number;
}

/** A feature store that has not said it is listening by then has failed to start. */
const START_TIMEOUT_MS = 15_000;

/**
 * The feature store's compiled entry: beside this module in `dist`, or in `dist` when the
 * tests run the TypeScript sources (the test command builds first).
 */
function featureStoreScript(): string {
  const candidates = [new URL('./index.js', import.meta.url), new URL('../../../../dist/server/src/demo/feature-store/index.js', import.meta.url)];
  const found = candidates.map((candidate) => fileURLToPath(candidate)).find((path) => existsSync(path));
  if (found === undefined) throw new Error('the feature store (demo/feature-store/index.js) is not built; run `npm run build`');
  return found;
}

/** The address to call a server on that listens on `host`: a wildcard address is reached on loopback. */
function connectHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** The feature store child process. */
export class FeatureStoreProcess {
  private stopping = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    // Said once, where an operator looks: every request after this degrades to control.
    child.once('exit', (code, signal) => {
      if (!this.stopping) console.error(`the feature store exited (${signal ?? `code ${code}`}); recommendations are ranked by control until the server restarts`);
    });
  }

  static start(config: FeatureStoreProcessConfig): Promise<FeatureStoreProcess> {
    const child = fork(featureStoreScript(), [], {
      env: {
        ...process.env,
        FEATURE_STORE_PORT: String(config.port),
        FEATURE_STORE_HOST: config.host,
        DATA_DIR: config.dataDir,
        EXPERIMENTS_FILE: config.experimentsFile,
        TELEMETRY_URL: config.telemetryUrl,
        INTERNAL_TELEMETRY_TOKEN: config.token,
        OTEL_SDK_DISABLED: String(config.telemetryDisabled),
        METRIC_INTERVAL_MS: String(config.metricIntervalMs),
        FEATURE_STORE_DELAY_MS: String(config.delayMs),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error('the feature store did not start in time'));
      }, START_TIMEOUT_MS);
      child.on('message', (message: { type?: string; port?: number }) => {
        if (message.type !== 'ready') return;
        clearTimeout(timer);
        resolve(new FeatureStoreProcess(child, `http://${connectHost(config.host)}:${message.port}`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the feature store exited with code ${code}`));
      });
    });
  }

  /** The child's process id (for operators' tools and tests). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Stops it and waits, so its last telemetry reaches the server first. A child already gone (even by a signal) is stopped. */
  stop(): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.kill('SIGTERM');
    });
  }
}
