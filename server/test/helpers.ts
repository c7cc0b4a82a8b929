/** Shared helpers for integration tests: a real server on an ephemeral port with its own data folder. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { expect, inject } from 'vitest';
import type { SpanRecord } from '../src/core/telemetry-records.js';
import { loadDemoConfig, startDemo, type RunningDemo } from '../src/demo/index.js';

/** A fresh folder inside the run's temporary root (`global-setup.ts`), which goes when the run ends. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(inject('tempRoot'), `variant-lens-${prefix}-`));
}

/** The built server's entry (`npm run build`): what the process tests start. */
export const SERVER_ENTRY = join(import.meta.dirname, '../../dist/server/src/index.js');

/**
 * Starts the built server as a process of its own in `dataDir` and resolves with its URL once
 * it says it serves; rejects, with what it printed, when it exits first. `env` adds to the
 * settings every process test shares; `wrapper` runs it under another command (`prlimit …`).
 */
export function startServerProcess(dataDir: string, options: { env?: Record<string, string>; wrapper?: readonly string[] } = {}): Promise<{ child: ChildProcess; url: string }> {
  const [command, ...args] = [...(options.wrapper ?? []), process.execPath, SERVER_ENTRY];
  const child = spawn(command!, args, {
    env: { ...process.env, PORT: '0', FEATURE_STORE_PORT: '0', DATA_DIR: dataDir, METRIC_INTERVAL_MS: '100000', RETENTION_MAX_AGE_HOURS: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /variant-lens is serving on (http:\/\/localhost:\d+)/.exec(output);
      if (match) resolve({ child, url: match[1]! });
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.once('exit', (code) => reject(new Error(`server exited early with ${code}: ${output}`)));
  });
}

/** The read token of test servers (`READ_TOKEN`), and the header that carries it. */
export const TEST_READ_TOKEN = 'test-read-token-0123456789';
export const readAuth = { authorization: `Bearer ${TEST_READ_TOKEN}` } as const;
/** The internal token of test servers (`INTERNAL_TELEMETRY_TOKEN`): what the feature store asks of its callers. */
export const TEST_INTERNAL_TOKEN = 'test-internal-token-0123456789';

/**
 * Starts the demo (inside the collector) with a fresh data folder; `env` overrides the defaults. No retention age
 * unless a test sets one: the fixtures' fixed timestamps (`otlpSpan`) would otherwise be
 * refused as older than it once they are 30 days old.
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<RunningDemo & { dataDir: string }> {
  const dataDir = tempDir('test');
  const server = await startDemo(
    loadDemoConfig({
      PORT: '0',
      FEATURE_STORE_PORT: '0',
      DATA_DIR: dataDir,
      METRIC_INTERVAL_MS: '100000',
      RETENTION_MAX_AGE_HOURS: '0',
      READ_TOKEN: TEST_READ_TOKEN,
      INTERNAL_TELEMETRY_TOKEN: TEST_INTERNAL_TOKEN,
      ...env,
    }),
  );
  return Object.assign(server, { dataDir });
}

/** A span in OTLP/JSON with the given ids. */
export function otlpSpan(traceId: string, spanId: string, attributes: Record<string, string | number> = {}): Record<string, unknown> {
  return {
    traceId,
    spanId,
    name: 'recommendation.click',
    kind: 1,
    startTimeUnixNano: '1795000000000000000',
    endTimeUnixNano: '1795000000001000000',
    attributes: Object.entries(attributes).map(([key, value]) =>
      typeof value === 'number' ? { key, value: { intValue: String(value) } } : { key, value: { stringValue: value } },
    ),
  };
}

export function otlpTraces(spans: readonly Record<string, unknown>[], service = 'browser'): Record<string, unknown> {
  return {
    resourceSpans: [
      { resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] }, scopeSpans: [{ scope: { name: 'test' }, spans }] },
    ],
  };
}

/** Hex id of `bytes` bytes from a counter, so every test span is distinct and predictable. */
export function hexId(n: number, bytes: number): string {
  return n.toString(16).padStart(bytes * 2, '0');
}

/** A stored span with the fields a test does not care about left empty (no parent, events or links, status unset). */
export function spanRecord(
  span: Pick<SpanRecord, 'traceId' | 'spanId' | 'name' | 'service' | 'startTimeUnixNano' | 'endTimeUnixNano' | 'attributes' | 'trusted'> & Partial<SpanRecord>,
): SpanRecord {
  return { parentSpanId: null, kind: 1, scope: 'test', statusCode: 0, statusMessage: '', events: [], links: [], ...span };
}

/** Every number of `actual` equal to `expected`'s (integers exactly, others within 1e-9 relative, NaN as NaN), and the same shape. */
export function expectNumbersClose(actual: unknown, expected: unknown, path = ''): void {
  if (typeof actual === 'number' && typeof expected === 'number') {
    if (Number.isNaN(expected)) expect(actual, path).toBeNaN();
    else if (Number.isInteger(expected)) expect(actual, path).toBe(expected);
    else expect(Math.abs(actual - expected), `${path}: ${actual} against ${expected}`).toBeLessThanOrEqual(1e-9 * Math.max(Math.abs(actual), Math.abs(expected)));
    return;
  }
  if (actual !== null && typeof actual === 'object' && expected !== null && typeof expected === 'object') {
    expect(Object.keys(actual).sort(), path).toEqual(Object.keys(expected).sort());
    for (const key of Object.keys(expected)) expectNumbersClose((actual as Record<string, unknown>)[key], (expected as Record<string, unknown>)[key], `${path}.${key}`);
    return;
  }
  expect(actual, path).toEqual(expected);
}
