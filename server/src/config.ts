import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ExperimentsFileError, parseExperimentsFile, type ExperimentsFile } from './core/experiment-config.js';

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
  /** `EXPERIMENTS_FILE`: the experiment definitions (default `config/experiments.json`), validated. */
  readonly experimentsFile: string;
  readonly experiments: ExperimentsFile;
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

/** Reads and validates the experiments file; a bad one is a `ConfigError` naming experiment and field. */
export function readExperimentsFile(path: string): ExperimentsFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`Configuration: EXPERIMENTS_FILE ${path} could not be read as JSON: ${(error as Error).message}`);
  }
  try {
    return parseExperimentsFile(raw, path);
  } catch (error) {
    if (error instanceof ExperimentsFileError) throw new ConfigError(`Configuration: ${error.message}`);
    throw error;
  }
}

/** Parses the environment; throws `ConfigError` naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv): ServerConfig {
  const experimentsFile = resolve(env.EXPERIMENTS_FILE || 'config/experiments.json');
  return {
    experimentsFile,
    experiments: readExperimentsFile(experimentsFile),
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
