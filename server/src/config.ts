import { resolve } from 'node:path';

/** The server's configuration, read once from the environment at start. */
export interface ServerConfig {
  /** `PORT`: where the server listens (default 3000; 0 picks a free port). */
  readonly port: number;
  /** `DATA_DIR`: folder of the SQLite files (default `./data`). */
  readonly dataDir: string;
  /** `CORS_ORIGINS`: comma-separated origins allowed to post telemetry and call the API (default none: same origin only). */
  readonly corsOrigins: readonly string[];
  /** `OTEL_SDK_DISABLED=true`: run with no instrumentation. */
  readonly telemetryDisabled: boolean;
  /** `MAX_BODY_BYTES`: largest OTLP body accepted (default 5 MiB). */
  readonly maxBodyBytes: number;
  /** `METRIC_INTERVAL_MS`: how often the server's metrics are written (default 5000). */
  readonly metricIntervalMs: number;
  /** `DIST_DIR`: the built SDK and demo site (default `./dist`). */
  readonly distDir: string;
  /** `SERVICE_NAME`: the server's `service.name` (default `recommendation-service`). */
  readonly serviceName: string;
}

const MIB = 1024 * 1024;

/** Thrown for a bad setting; the entry point prints it and exits. */
export class ConfigError extends Error {}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`Configuration: ${name} is invalid, expected an integer from ${min} to ${max} (actual: ${raw})`);
  }
  return value;
}

function boolean(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new ConfigError(`Configuration: ${name} is invalid, expected true or false (actual: ${env[name]})`);
}

/** Parses the environment; throws `ConfigError` naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv): ServerConfig {
  return {
    port: integer(env, 'PORT', 3000, 0, 65_535),
    dataDir: resolve(env.DATA_DIR || './data'),
    corsOrigins: (env.CORS_ORIGINS ?? '').split(',').map((o) => o.trim()).filter((o) => o !== ''),
    telemetryDisabled: boolean(env, 'OTEL_SDK_DISABLED'),
    maxBodyBytes: integer(env, 'MAX_BODY_BYTES', 5 * MIB, 1024, 1024 * MIB),
    metricIntervalMs: integer(env, 'METRIC_INTERVAL_MS', 5000, 100, 3_600_000),
    distDir: resolve(env.DIST_DIR || './dist'),
    serviceName: env.SERVICE_NAME || 'recommendation-service',
  };
}
