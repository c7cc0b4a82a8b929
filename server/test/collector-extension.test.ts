/**
 * A team's own service inside the collector's process, through the collector entry alone (as
 * the demo runs): its routes are mounted after the read API, its start is awaited before
 * `/healthz` answers ready, and stopping runs its `stop` first and its `close` last.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Router } from 'express';
import { describe, expect, it } from 'vitest';
import { HttpError, loadConfig, startCollector, type CollectorExtension } from '../src/collector.js';
import { readAuth, TEST_READ_TOKEN, tempDir } from './helpers.js';

const EXPERIMENTS_FILE = join(import.meta.dirname, '../../config/experiments.json');

function collectorConfig(env: Record<string, string> = {}) {
  return loadConfig(
    { PORT: '0', DATA_DIR: tempDir('extension'), EXPERIMENTS_FILE, METRIC_INTERVAL_MS: '100000', READ_TOKEN: TEST_READ_TOKEN, RETENTION_MAX_AGE_HOURS: '0', ...env },
    { demo: false },
  );
}

/** Whether something can listen on `port` of 127.0.0.1 now (the collector let it go). */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

describe('a service run inside the collector (CollectorExtension)', () => {
  it('mounts its routes after the read API, is started before ready, and is stopped first and closed last', async () => {
    const events: string[] = [];
    let healthDuringStart = 0;
    const extension: CollectorExtension = {
      routes: ({ experiments }) => {
        events.push('routes');
        const router = Router();
        router.get('/api/hello', (req, res) => {
          if (req.query.name === undefined) throw new HttpError(400, 'name is required');
          res.json({ hello: req.query.name, experiments: experiments.experiments.length });
        });
        return router;
      },
      start: async (url) => {
        events.push('start');
        healthDuringStart = (await fetch(`${url}/healthz`)).status;
      },
      stop: async () => {
        events.push('stop');
      },
      close: () => {
        events.push('close');
      },
    };
    const server = await startCollector(collectorConfig(), extension);
    try {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect(healthDuringStart).toBe(503);
      expect(await (await fetch(`${server.url}/api/hello?name=team`)).json()).toEqual({ hello: 'team', experiments: 2 });
      // Its errors get the collector's {error} answers; the read API before it keeps its door.
      const bad = await fetch(`${server.url}/api/hello`);
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual({ error: 'name is required' });
      expect((await fetch(`${server.url}/api/experiments`)).status).toBe(401);
      expect((await fetch(`${server.url}/api/experiments`, { headers: readAuth })).status).toBe(200);
      // What it does not answer is the collector's: `/` is still the dashboard's.
      expect((await fetch(`${server.url}/`, { redirect: 'manual' })).headers.get('location')).toBe('/dashboard');
    } finally {
      await server.close();
    }
    expect(events).toEqual(['routes', 'start', 'stop', 'close']);
  });

  it('stops the start when the service cannot start, leaving nothing open', async () => {
    const events: string[] = [];
    let listenedOn = 0;
    const failure = new Error('the service could not start');
    const start = startCollector(collectorConfig(), {
      start: async (url) => {
        listenedOn = Number(new URL(url).port);
        throw failure;
      },
      stop: async () => {
        events.push('stop');
      },
      close: () => {
        events.push('close');
      },
    });
    await expect(start).rejects.toBe(failure);
    expect(events).toEqual(['stop', 'close']);
    expect(listenedOn).toBeGreaterThan(0);
    expect(await portIsFree(listenedOn)).toBe(true);
  });
});

describe('the package entry variant-lens/collector', () => {
  it('points at the built collector entry and its types, which export what the README shows', async () => {
    const root = join(import.meta.dirname, '../..');
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; import: string }> };
    const entry = manifest.exports['./collector'];
    expect(entry).toBeDefined();
    expect(existsSync(join(root, entry!.types)), entry!.types).toBe(true);
    const built = (await import(pathToFileURL(join(root, entry!.import)).href)) as Record<string, unknown>;
    for (const name of ['startCollector', 'loadConfig', 'serve', 'HttpError']) expect(typeof built[name], name).toBe('function');
  });
});
