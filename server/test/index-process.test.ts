/**
 * `node dist/server/src/index.js` as an operator runs it (issue 16, "Smaller"): a read-only
 * DATA_DIR is a message naming the folder, and SIGTERM under keep-alive load exits 0 at once.
 * Needs `npm run build`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir, TEST_READ_TOKEN } from './helpers.js';

const ENTRY = join(import.meta.dirname, '../../dist/server/src/index.js');
const ROOT = join(import.meta.dirname, '../..');
/** `nobody`: root writes anywhere, so a read-only folder is tested as another user. */
const UNPRIVILEGED = 65_534;

interface Started {
  readonly child: ChildProcess;
  readonly exit: Promise<{ code: number | null; output: string }>;
  readonly url: Promise<string>;
}

function start(env: Record<string, string>, asUser?: number): Started {
  const child = spawn(process.execPath, [ENTRY], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', FEATURE_STORE_PORT: '0', READ_TOKEN: TEST_READ_TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(asUser === undefined ? {} : { uid: asUser, gid: asUser }),
  });
  let output = '';
  let resolveUrl: (url: string) => void;
  const url = new Promise<string>((resolve) => (resolveUrl = resolve));
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    const match = /variant-lens is serving on (http:\/\/localhost:\d+)/.exec(output);
    if (match !== null) resolveUrl(match[1]!);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exit = new Promise<{ code: number | null; output: string }>((resolve) => child.once('exit', (code) => resolve({ code, output })));
  return { child, exit, url };
}

describe('the server process', () => {
  it('names a read-only DATA_DIR and what to do, without an SQLite stack', async () => {
    const dataDir = tempDir('read-only');
    chmodSync(dataDir, 0o555);
    try {
      const asRoot = process.getuid?.() === 0;
      const { code, output } = await start({ DATA_DIR: dataDir }, asRoot ? UNPRIVILEGED : undefined).exit;
      expect(code).toBe(1);
      expect(output).toContain(`DATA_DIR ${dataDir} is not writable`);
      expect(output).toMatch(/write access to that folder.*or set DATA_DIR/);
      expect(output).not.toMatch(/SqliteError|\n\s+at /);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('exits 0 promptly on SIGTERM while keep-alive clients keep sending', async () => {
    const dataDir = tempDir('keep-alive');
    const server = start({ DATA_DIR: dataDir });
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    try {
      const url = await server.url;
      let answered = 0;
      let stop = false;
      let reachedLoad: () => void;
      const loaded = new Promise<void>((resolve) => (reachedLoad = resolve));
      const get = () =>
        new Promise<void>((resolve) => {
          const req = request(`${url}/api/recommendations?userId=keepalive`, { agent }, (res) => {
            res.resume();
            res.once('end', () => {
              answered += 1;
              if (answered === 200) reachedLoad();
              resolve();
            });
          });
          req.once('error', () => {
            // The server went away: this client is done.
            stop = true;
            resolve();
          });
          req.end();
        });
      const clients = Array.from({ length: 16 }, async () => {
        while (!stop) await get();
      });
      await loaded;
      const signalled = performance.now();
      server.child.kill('SIGTERM');
      const { code, output } = await server.exit;
      const tookMs = performance.now() - signalled;
      stop = true;
      await Promise.all(clients);
      console.log(`SIGTERM under keep-alive load: exit ${code} after ${tookMs.toFixed(0)} ms (${answered} requests answered)`);
      expect(code, output).toBe(0);
      // The shutdown timer fires at 10 s: well within it.
      expect(tookMs).toBeLessThan(6_000);
    } finally {
      agent.destroy();
      server.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
