import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExperimentsFileError, parseExperimentsFile, type ExperimentsFile } from './core/experiment-config.js';
import { serviceTokenProblem } from './http/service-tokens.js';
import { DEFAULT_CLICKHOUSE_DATABASE, type ClickHouseConfig } from './clickhouse/clickhouse-connection.js';

/** The server's configuration, read once from the environment at start. */
export interface ServerConfig {
  /** `PORT`: where the server listens (default 3000; 0 picks a free port). */
  readonly port: number;
  /** `HOST`: the address the server listens on (default: every interface, as it serves visitors). */
  readonly host: string | undefined;
  /**
   * `TRUST_PROXY`: which proxies in front of the server are believed about the client's
   * protocol and address (`X-Forwarded-Proto`, `X-Forwarded-For`): Express's `trust proxy`, as a
   * hop count or a list of addresses, subnets and `loopback` / `linklocal` / `uniquelocal`
   * (default none: forwarded headers are ignored, so the login cookie is `Secure` only on a TLS
   * connection to the server itself).
   */
  readonly trustProxy: number | readonly string[] | undefined;
  /** `READ_TOKEN`: the read side's bearer token (default: generated at first start and kept in `DATA_DIR/read-token`). */
  readonly readToken: string | undefined;
  /** `DATA_DIR`: folder of the SQLite files (default `./data`). */
  readonly dataDir: string;
  /** `CORS_ORIGINS`: `*` or comma-separated http(s) origins allowed to post telemetry and call the API (default none: same origin only). */
  readonly corsOrigins: readonly string[];
  /** `OTEL_SDK_DISABLED=true`: run with no instrumentation. */
  readonly telemetryDisabled: boolean;
  /** `MAX_BODY_BYTES`: largest OTLP body accepted (default 5 MiB). */
  readonly maxBodyBytes: number;
  /** `MAX_BROWSER_BODY_BYTES`: largest OTLP body without a service token, after decompression (default 1 MiB). */
  readonly maxBrowserBodyBytes: number;
  /** `METRIC_INTERVAL_MS`: how often the server's metrics are written (default 5000). */
  readonly metricIntervalMs: number;
  /** `DIST_DIR`: the built SDK, dashboard and demo site (default: the package's `dist`). */
  readonly distDir: string;
  /** `SERVICE_NAME`: the server's `service.name` (default `recommendation-service`). */
  readonly serviceName: string;
  /** `OTLP_FORWARD_URL`: upstream OTLP/HTTP collector that every accepted batch is forwarded to (default none). */
  readonly forwardUrl: string | undefined;
  /** `INGEST_WORKERS`: threads that parse, decode and store OTLP (default 2). */
  readonly ingestWorkers: number;
  /** `INGEST_MAX_IN_FLIGHT_BYTES`: OTLP bytes being decoded or awaiting a commit before the endpoint answers 503 (default 64 MiB). */
  readonly ingestMaxInFlightBytes: number;
  /** `INGEST_MAX_OPEN_BODIES`: OTLP bodies received at once before the endpoint answers 503 (default 64). */
  readonly ingestMaxOpenBodies: number;
  /** `INGEST_BODY_TIMEOUT_MS`: time for an OTLP body to arrive before the endpoint answers 408 (default 10,000). */
  readonly ingestBodyTimeoutMs: number;
  /** `RETENTION_MAX_AGE_HOURS`: spans and points older than this are deleted (default 720, 30 days; 0 keeps everything). */
  readonly retentionMaxAgeHours: number;
  /** `RETENTION_MAX_SPANS`: the oldest spans beyond this count are deleted (default 10,000,000; 0: no limit). */
  readonly retentionMaxSpans: number;
  /** `RETENTION_MAX_POINTS`: metric points beyond this count are deleted, the browser's first (default 10,000,000; 0: no limit). */
  readonly retentionMaxPoints: number;
  /** `RETENTION_INTERVAL_MS`: how often the background cleanup runs (default 60,000). */
  readonly retentionIntervalMs: number;
  /** `BENCH_PARSE_ONLY_ROUTE=true`: also serve `/bench/parse-only/v1/*`, which decodes but stores nothing (for `npm run bench`). */
  readonly benchParseOnlyRoute: boolean;
  /** `INTERNAL_TELEMETRY_TOKEN`: a service token for the services run with the collector (the demo's feature store); default: random per start. */
  readonly internalToken: string;
  /** `SERVICE_TOKENS` (comma-separated) and `SERVICE_TOKENS_FILE` (one a line, `#` comments): bearer tokens that mark OTLP from the team's own services as trusted. */
  readonly serviceTokens: readonly string[];
  /** Started for the demo (`variant-lens demo`, `npm start`): the package's experiments file is the default. False for `variant-lens collector`, which requires `EXPERIMENTS_FILE`. */
  readonly demo: boolean;
  /** `EXPERIMENTS_FILE`: the experiment definitions (default `config/experiments.json`), validated. */
  readonly experimentsFile: string;
  readonly experiments: ExperimentsFile;
  /** `ANALYSIS_BACKEND`: where results, report and dashboard read from: `sqlite` (default) or `clickhouse` (needs `CLICKHOUSE_URL`). */
  readonly analysisBackend: 'sqlite' | 'clickhouse';
  /** `CLICKHOUSE_URL` (`http(s)://…` or `chdb:<folder>`), `CLICKHOUSE_DATABASE` (default `otel`), `CLICKHOUSE_USER`, `CLICKHOUSE_PASSWORD`. */
  readonly clickhouse: ClickHouseConfig | undefined;
  /** `STORE=none`: a stateless forwarding endpoint (no SQLite); default `sqlite`. */
  readonly store: 'sqlite' | 'none';
}

const MIB = 1024 * 1024;

/** Thrown for a bad setting; the entry point prints it and exits. */
export class ConfigError extends Error {}

/** An integer setting `name` from `min` to `max`, `fallback` when unset; a `ConfigError` naming it otherwise. */
export function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
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

/** An http(s) URL setting without a trailing slash; a `ConfigError` naming `name` otherwise. */
export function httpUrl(raw: string, name: string): string {
  let url: URL | undefined;
  try {
    url = new URL(raw.trim());
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ConfigError(`Configuration: ${name} is invalid, expected an http(s) URL (actual: ${raw})`);
  }
  return url.href.replace(/\/+$/, '');
}

/** The origin a browser would send in `Origin` for `entry`, or undefined when `entry` is not an http(s) origin (a path, say). */
function httpOrigin(entry: string): string | undefined {
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return undefined;
  }
  const bare = url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '' && url.password === '';
  return (url.protocol === 'http:' || url.protocol === 'https:') && bare ? url.origin : undefined;
}

/**
 * `CORS_ORIGINS`: `*`, or origins normalised as browsers send them, so that
 * `https://News.Example:443/` matches the `Origin: https://news.example` of a request.
 */
function corsOrigins(raw: string | undefined): string[] {
  const entries = (raw ?? '').split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  return entries.map((entry) => {
    const origin = entry === '*' ? entry : httpOrigin(entry);
    if (origin === undefined) {
      throw new ConfigError(`Configuration: CORS_ORIGINS is invalid, expected * or a comma-separated list of http(s) origins such as https://news.example (actual: ${entry})`);
    }
    return origin;
  });
}

function forwardUrl(raw: string | undefined): string | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  return httpUrl(raw, 'OTLP_FORWARD_URL');
}

/** A listening address: a host name or an IPv4/IPv6 literal, nothing that could smuggle a URL. */
const HOST_PATTERN = /^[A-Za-z0-9.:-]{1,253}$/;

/** A listening address setting: a host name or an IP literal, `fallback` when unset. */
export function host(env: NodeJS.ProcessEnv, name: string, fallback: string | undefined): string | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!HOST_PATTERN.test(raw)) throw new ConfigError(`Configuration: ${name} is invalid, expected a host name or an IP address such as 127.0.0.1 or :: (actual: ${raw})`);
  return raw;
}

/** The names Express's `trust proxy` gives to address ranges. */
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];
/** Most proxy hops `TRUST_PROXY` may name: a chain longer than this is a misreading. */
const MAX_PROXY_HOPS = 10;

function trustProxy(raw: string | undefined): number | string[] | undefined {
  if (raw === undefined || raw.trim() === '' || raw.trim() === '0') return undefined;
  const value = raw.trim();
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > MAX_PROXY_HOPS) throw new ConfigError(`Configuration: TRUST_PROXY is invalid, expected 1 to ${MAX_PROXY_HOPS} proxy hops (actual: ${value})`);
    return hops;
  }
  const entries = value.split(',').map((entry) => entry.trim());
  for (const entry of entries) {
    const [address, prefix, extra] = entry.split('/');
    const validPrefix = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (isIP(address ?? '') === 6 ? 128 : 32));
    if (!(PROXY_RANGE_NAMES.includes(entry) || (isIP(address ?? '') !== 0 && validPrefix && extra === undefined))) {
      throw new ConfigError(
        `Configuration: TRUST_PROXY is invalid, expected a number of proxy hops or comma-separated proxy addresses, subnets (10.0.0.0/8) or ${PROXY_RANGE_NAMES.join(' / ')} (actual: ${entry.slice(0, 60)}); ` +
          '"true" is not accepted: it would believe any client that sends X-Forwarded-For',
      );
    }
  }
  return entries;
}

/** Shortest `READ_TOKEN` accepted: a guessable token would open the read side to anyone. */
export const MIN_READ_TOKEN_LENGTH = 16;
/** Printable ASCII without spaces, so the token fits a header, a cookie and a link. */
const READ_TOKEN_PATTERN = /^[\x21-\x7e]+$/;

function readToken(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw.length < MIN_READ_TOKEN_LENGTH || raw.length > 512 || !READ_TOKEN_PATTERN.test(raw)) {
    throw new ConfigError(
      `Configuration: READ_TOKEN is invalid, expected ${MIN_READ_TOKEN_LENGTH} to 512 printable characters without spaces (actual: ${raw.length} characters); unset it to have one generated`,
    );
  }
  return raw;
}

function clickhouseConfig(env: NodeJS.ProcessEnv): ClickHouseConfig | undefined {
  const raw = env.CLICKHOUSE_URL?.trim() ?? '';
  if (raw === '') return undefined;
  const database = env.CLICKHOUSE_DATABASE || DEFAULT_CLICKHOUSE_DATABASE;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) throw new ConfigError(`Configuration: CLICKHOUSE_DATABASE is invalid, expected letters, digits and _ (actual: ${database})`);
  if (raw.startsWith('chdb:')) {
    if (raw.length === 'chdb:'.length) throw new ConfigError('Configuration: CLICKHOUSE_URL is invalid, expected chdb:<folder> with a folder (actual: chdb:)');
    return { url: raw, database };
  }
  return { url: httpUrl(raw, 'CLICKHOUSE_URL'), database, user: env.CLICKHOUSE_USER || undefined, password: env.CLICKHOUSE_PASSWORD || undefined };
}

function storeKind(raw: string | undefined): 'sqlite' | 'none' {
  const value = (raw ?? '').trim() || 'sqlite';
  if (value !== 'sqlite' && value !== 'none') throw new ConfigError(`Configuration: STORE is invalid, expected sqlite or none (actual: ${value})`);
  return value;
}

function analysisBackend(env: NodeJS.ProcessEnv, clickhouse: ClickHouseConfig | undefined): 'sqlite' | 'clickhouse' {
  const raw = (env.ANALYSIS_BACKEND ?? '').trim() || 'sqlite';
  if (raw !== 'sqlite' && raw !== 'clickhouse') throw new ConfigError(`Configuration: ANALYSIS_BACKEND is invalid, expected sqlite or clickhouse (actual: ${raw})`);
  if (raw === 'clickhouse' && clickhouse === undefined) {
    throw new ConfigError('Configuration: ANALYSIS_BACKEND=clickhouse needs CLICKHOUSE_URL, expected http(s)://host:8123 of a ClickHouse server or chdb:<folder> (actual: none)');
  }
  return raw;
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

/** The folder of the package (its package.json): the built assets and the demo's experiments are found from here, wherever it is installed. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** `SERVICE_TOKENS` and the lines of `SERVICE_TOKENS_FILE`, each checked. */
function serviceTokens(env: NodeJS.ProcessEnv): string[] {
  const tokens: [string, string][] = (env.SERVICE_TOKENS ?? '').split(',').map((token) => [token.trim(), 'SERVICE_TOKENS']);
  const file = env.SERVICE_TOKENS_FILE;
  if (file !== undefined && file !== '') {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(`Configuration: SERVICE_TOKENS_FILE ${file} could not be read: ${(error as Error).message}`);
    }
    for (const line of text.split('\n')) tokens.push([line.replace(/#.*/, '').trim(), `SERVICE_TOKENS_FILE ${file}`]);
  }
  return tokens
    .filter(([token]) => token !== '')
    .map(([token, source]) => {
      const problem = serviceTokenProblem(token);
      if (problem !== undefined) throw new ConfigError(`Configuration: ${source} has an invalid token, expected a random token (${problem}); make one with: openssl rand -base64 24`);
      return token;
    });
}

/** Parses the environment; throws `ConfigError` naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv, mode: { demo: boolean } = { demo: true }): ServerConfig {
  const root = packageRoot();
  if (!mode.demo && !env.EXPERIMENTS_FILE) {
    throw new ConfigError(`Configuration: EXPERIMENTS_FILE is required by the collector: your experiments file (the format of ${join(root, 'config', 'experiments.json')})`);
  }
  const experimentsFile = resolve(env.EXPERIMENTS_FILE || (existsSync('config/experiments.json') ? 'config/experiments.json' : join(root, 'config', 'experiments.json')));
  const clickhouse = clickhouseConfig(env);
  return {
    clickhouse,
    analysisBackend: analysisBackend(env, clickhouse),
    store: storeKind(env.STORE),
    experimentsFile,
    experiments: readExperimentsFile(experimentsFile),
    port: integer(env, 'PORT', 3000, 0, 65_535),
    host: host(env, 'HOST', undefined),
    readToken: readToken(env.READ_TOKEN),
    trustProxy: trustProxy(env.TRUST_PROXY),
    dataDir: resolve(env.DATA_DIR || './data'),
    corsOrigins: corsOrigins(env.CORS_ORIGINS),
    telemetryDisabled: boolean(env, 'OTEL_SDK_DISABLED'),
    maxBodyBytes: integer(env, 'MAX_BODY_BYTES', 5 * MIB, 1024, 1024 * MIB),
    maxBrowserBodyBytes: integer(env, 'MAX_BROWSER_BODY_BYTES', MIB, 1024, 1024 * MIB),
    metricIntervalMs: integer(env, 'METRIC_INTERVAL_MS', 5000, 100, 3_600_000),
    distDir: resolve(env.DIST_DIR || join(root, 'dist')),
    serviceName: env.SERVICE_NAME || 'recommendation-service',
    forwardUrl: forwardUrl(env.OTLP_FORWARD_URL),
    ingestWorkers: integer(env, 'INGEST_WORKERS', 2, 1, 16),
    ingestMaxInFlightBytes: integer(env, 'INGEST_MAX_IN_FLIGHT_BYTES', 64 * MIB, 1024, 4096 * MIB),
    ingestMaxOpenBodies: integer(env, 'INGEST_MAX_OPEN_BODIES', 64, 1, 100_000),
    ingestBodyTimeoutMs: integer(env, 'INGEST_BODY_TIMEOUT_MS', 10_000, 100, 600_000),
    retentionMaxAgeHours: integer(env, 'RETENTION_MAX_AGE_HOURS', 720, 0, 24 * 365 * 10),
    retentionMaxSpans: integer(env, 'RETENTION_MAX_SPANS', 10_000_000, 0, 1_000_000_000),
    retentionMaxPoints: integer(env, 'RETENTION_MAX_POINTS', 10_000_000, 0, 1_000_000_000),
    retentionIntervalMs: integer(env, 'RETENTION_INTERVAL_MS', 60_000, 100, 86_400_000),
    benchParseOnlyRoute: boolean(env, 'BENCH_PARSE_ONLY_ROUTE'),
    internalToken: env.INTERNAL_TELEMETRY_TOKEN || randomBytes(24).toString('base64url'),
    serviceTokens: serviceTokens(env),
    demo: mode.demo,
  };
}
