/**
 * One `@clickhouse/client` for both deployments: a ClickHouse server over HTTP(S), or ClickHouse
 * embedded in this process through `chdb` (`CLICKHOUSE_URL=chdb:<folder>`). The two share every
 * query; only the transport differs.
 */
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { createClient, type ClickHouseClient } from '@clickhouse/client';

/** Configuration of the ClickHouse backend. */
export interface ClickHouseConfig {
  /** `CLICKHOUSE_URL`: `http(s)://host:port` of a server, or `chdb:<folder>` for the embedded engine. */
  readonly url: string;
  /** `CLICKHOUSE_DATABASE`: where the exporter's tables are (default `otel`, the exporter's default). */
  readonly database: string;
  /** `CLICKHOUSE_USER` (default `default`). */
  readonly user?: string;
  /** `CLICKHOUSE_PASSWORD` (default none). */
  readonly password?: string;
}

/** The exporter's default database. */
export const DEFAULT_CLICKHOUSE_DATABASE = 'otel';

const CHDB_PREFIX = 'chdb:';

/** The folder of an embedded engine, or undefined for a server URL. */
export function chdbFolder(url: string): string | undefined {
  return url.startsWith(CHDB_PREFIX) ? resolve(url.slice(CHDB_PREFIX.length)) : undefined;
}

/** Thrown when `chdb:` is asked for and the optional `chdb` package is not installed. */
export class ChdbMissingError extends Error {}

/** A raw insert into the embedded engine: a payload in a text format, parsed by chdb's own (multithreaded) parser. */
export type ChdbRawInsert = (params: {
  table: string;
  values: Buffer;
  format: 'JSONEachRow' | 'JSONCompactEachRow' | 'TSV';
  columns?: readonly string[];
  settings?: Record<string, string | number | boolean>;
}) => Promise<unknown>;

type Connection = NonNullable<Parameters<typeof createClient>[0]>['connection'];

interface ChdbConnectionModule {
  createChdbConnection(options: { path: string }): Connection & { chdb: { rawInsert: ChdbRawInsert } };
}

/**
 * The embedded engine's allocator (jemalloc, read from `JE_MALLOC_CONF` when the library loads):
 * memory a query frees stays in the process for a minute, for the next query to reuse, instead of
 * going back to the system within seconds and being faulted in again, page by page. Measured on
 * the results of one experiment at 10M spans: a third fewer page faults, about 1 s less CPU per
 * read (sys 1.5 s → 0.5 s). The cost: the process keeps the memory of its largest recent query
 * for a minute after it. A `JE_MALLOC_CONF` set in the environment is kept as it is.
 */
export const CHDB_MALLOC_CONF = 'dirty_decay_ms:60000,muzzy_decay_ms:60000';

/** Loads `chdb/connection` only when asked for: it is an optional dependency of about 540 MB. */
function loadChdb(): ChdbConnectionModule {
  const require = createRequire(import.meta.url);
  process.env.JE_MALLOC_CONF ??= CHDB_MALLOC_CONF;
  try {
    return require('chdb/connection') as ChdbConnectionModule;
  } catch (error) {
    throw new ChdbMissingError(
      `CLICKHOUSE_URL=chdb:… needs the optional package chdb, which could not be loaded (${(error as Error).message}). ` +
        'Install it with `npm install chdb` (Linux or macOS, x64 or arm64), or point CLICKHOUSE_URL at a ClickHouse server.',
    );
  }
}

/** Settings every query runs with: 64-bit integers as strings in JSON, so counts and nanoseconds stay exact. */
const CLIENT_SETTINGS = { output_format_json_quote_64bit_integers: 1 } as const;

/**
 * Opens the embedded engine in `folder` with its raw insert beside the client, for bulk loads
 * (the benchmark's fill): the client's insert serializes rows in JavaScript and hands chdb one
 * SQL string, the raw insert hands it the payload as bytes (measured: 2-3x faster).
 */
export function openChdb(folder: string): { client: ClickHouseClient; rawInsert: ChdbRawInsert } {
  const { createChdbConnection } = loadChdb();
  const connection = createChdbConnection({ path: resolve(folder) });
  return { client: createClient({ connection, clickhouse_settings: CLIENT_SETTINGS }), rawInsert: (params) => connection.chdb.rawInsert(params) };
}

/** Opens a client for `config`; for `chdb:` the folder is created by the engine. */
export function openClickHouse(config: ClickHouseConfig): ClickHouseClient {
  const folder = chdbFolder(config.url);
  if (folder !== undefined) {
    const { createChdbConnection } = loadChdb();
    return createClient({ connection: createChdbConnection({ path: folder }), clickhouse_settings: CLIENT_SETTINGS });
  }
  return createClient({
    url: config.url,
    username: config.user ?? 'default',
    password: config.password ?? '',
    clickhouse_settings: CLIENT_SETTINGS,
  });
}
