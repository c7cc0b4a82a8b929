/** The embedded engine's allocator keeps freed memory for reuse (see CHDB_MALLOC_CONF), unless the environment says otherwise. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CHDB_MALLOC_CONF } from '../src/clickhouse/clickhouse-connection.js';
import { tempDir } from './helpers.js';

const CONNECTION = join(import.meta.dirname, '../../dist/server/src/clickhouse/clickhouse-connection.js');

/** Opens `chdb:` in a fresh process (the allocator reads its settings once, when the library loads) and returns them as it saw them. */
async function allocatorSettings(env: Record<string, string | undefined>): Promise<string> {
  const script = `const m = await import(${JSON.stringify(CONNECTION)});
    const client = m.openClickHouse({ url: 'chdb:' + ${JSON.stringify(tempDir('chdb-malloc'))}, database: 'otel' });
    await (await client.query({ query: 'SELECT 1', format: 'JSONEachRow' })).json();
    await client.close();
    process.stdout.write(String(process.env.JE_MALLOC_CONF));`;
  const base = { ...process.env };
  delete base.JE_MALLOC_CONF;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { env: { ...base, ...env } });
  return stdout;
}

describe('the embedded engine (chdb:)', () => {
  it('loads with the allocator settings that keep freed memory for the next query', async () => {
    expect(await allocatorSettings({})).toBe(CHDB_MALLOC_CONF);
  });

  it('keeps allocator settings given in the environment', async () => {
    expect(await allocatorSettings({ JE_MALLOC_CONF: 'dirty_decay_ms:1000' })).toBe('dirty_decay_ms:1000');
  });
});
