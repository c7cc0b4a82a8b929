/**
 * A real ClickHouse server over HTTP on an ephemeral port, for the tests of what production runs:
 * `@clickhouse/client` talking HTTP to ClickHouse. There is no ClickHouse server package on these
 * machines new enough for the exporter's DDL, so the server is ClickHouse's engine from the npm
 * package `chdb` (its `libchdb.so`, ClickHouse 26.x), run as clickhouse-local with its HTTP
 * handler listening: `fixtures/clickhouse-http-server.c`, compiled here with the C compiler the
 * native dependencies build with.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

export interface ClickHouseServer {
  readonly url: string;
  stop(): Promise<void>;
}

/** A port free right now (the server binds it a moment later). */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** Compiles the launcher into `folder` against the `chdb` package's library. */
async function compile(folder: string): Promise<string> {
  const require = createRequire(import.meta.url);
  const library = dirname(require.resolve('@chdb/lib-linux-x64-gnu/libchdb.so'));
  const binary = join(folder, 'clickhouse-http-server');
  const source = join(import.meta.dirname, 'fixtures/clickhouse-http-server.c');
  await promisify(execFile)('cc', ['-o', binary, source, `-L${library}`, '-lchdb', `-Wl,-rpath,${library}`]);
  return binary;
}

/**
 * Starts the server with its data in `folder`; resolves once it answers `/ping`. The engine says
 * nothing when its HTTP handler is up, so readiness is asked for, a few times a second, for at most
 * `timeoutMs` (it takes about a second here); an early exit rejects with what it printed.
 */
export async function startClickHouseServer(folder: string, timeoutMs = 60_000): Promise<ClickHouseServer> {
  const binary = await compile(folder);
  const port = await freePort();
  const child: ChildProcess = spawn(
    binary,
    [
      `--path=${join(folder, 'data')}`,
      `--http_port=${port}`,
      '--listen_host=127.0.0.1',
      '--multiquery',
      '--query=SYSTEM START LISTEN HTTP; SELECT sleepEachRow(1) FROM system.numbers SETTINGS max_block_size = 1 FORMAT Null',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let output = '';
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited = false;
  const exit = once(child, 'exit').then(([code]) => {
    exited = true;
    return code as number | null;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`the ClickHouse server exited before it served: ${output}`);
    const ok = await fetch(`${url}/ping`).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the ClickHouse server did not answer /ping within ${timeoutMs} ms: ${output}`);
    }
    await delay(100);
  }
  return {
    url,
    async stop() {
      if (!exited) child.kill('SIGKILL');
      await exit;
    },
  };
}
