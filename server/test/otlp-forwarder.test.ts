import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OtlpForwarder, type ForwarderConfig } from '../src/services/otlp-forwarder.js';

/** How the fake upstream answers its `n`th request (0-based). */
interface Answer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  /** Holds the answer back, so the forwarder has a batch in flight while the test enqueues more. */
  readonly delayMs?: number;
}

interface Upstream {
  readonly url: string;
  /** Arrival time of every request, in order. */
  readonly arrivals: number[];
  /** Bodies the upstream answered 2xx to. */
  readonly accepted: string[];
  /** Resolves when the next request arrives (the forwarder then has a batch in flight). */
  nextRequest(): Promise<void>;
  close(): Promise<void>;
}

const upstreams: Upstream[] = [];
const forwarders: OtlpForwarder[] = [];

beforeEach(() => {
  // Give-ups are logged by design; keep them out of the test report.
  vi.spyOn(console, 'warn').mockImplementation(() => undefined);
});

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(forwarders.splice(0).map((f) => f.close(0)));
  await Promise.all(upstreams.splice(0).map((u) => u.close()));
});

async function startUpstream(answer: (n: number) => Answer): Promise<Upstream> {
  const arrivals: number[] = [];
  const accepted: string[] = [];
  let waiters: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { status, headers = {}, delayMs = 0 } = answer(arrivals.length);
      arrivals.push(Date.now());
      const woken = waiters;
      waiters = [];
      woken.forEach((wake) => wake());
      setTimeout(() => {
        if (status >= 200 && status < 300) accepted.push(Buffer.concat(chunks).toString());
        res.writeHead(status, headers).end();
      }, delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const upstream: Upstream = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals,
    accepted,
    nextRequest: () => new Promise<void>((r) => waiters.push(r)),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  upstreams.push(upstream);
  return upstream;
}

function startForwarder(config: Partial<ForwarderConfig> & Pick<ForwarderConfig, 'url'>): OtlpForwarder {
  const forwarder = new OtlpForwarder({ maxQueuedBytes: 1_000, maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 5, timeoutMs: 2_000, ...config });
  forwarders.push(forwarder);
  return forwarder;
}

/** A distinct batch of exactly `bytes` bytes, so the upstream's tally can be matched to the forwarder's. */
function batch(n: number, bytes: number): Buffer {
  return Buffer.from(`batch-${n}-`.padEnd(bytes, '.'));
}

describe('OtlpForwarder queue bound', () => {
  const BOUND = 1_000;
  const BATCH_BYTES = 100;
  /** One and a half bounds per round, so every round overflows while a send is in flight. */
  const BATCHES_PER_ROUND = 15;
  const ROUNDS = 40;

  it('keeps queued bytes within the bound and accounts for every batch against a slow, failing upstream', async () => {
    // Two of every three answers are a retryable 503, so batches are retried, some exhaust
    // their attempts, and the rest are accepted; every answer is slow enough to overlap enqueues.
    const upstream = await startUpstream((n) => (n % 3 === 0 ? { status: 200, delayMs: 5 } : { status: 503, headers: { 'retry-after': '0' }, delayMs: 5 }));
    const forwarder = startForwarder({ url: upstream.url, maxQueuedBytes: BOUND });
    let enqueued = 0;
    const expectAccounted = () => {
      const { forwarded, dropped, queued, queuedBytes } = forwarder.stats;
      expect(queuedBytes).toBeLessThanOrEqual(BOUND);
      // Equal-sized batches tie the byte count to the batch count, so a drifting byte count shows.
      expect(queuedBytes).toBe(queued * BATCH_BYTES);
      expect(forwarded + dropped + queued).toBe(enqueued);
    };

    for (let round = 0; round < ROUNDS; round += 1) {
      for (let i = 0; i < BATCHES_PER_ROUND; i += 1) {
        forwarder.enqueue('traces', batch(enqueued, BATCH_BYTES), 'application/json');
        enqueued += 1;
        expectAccounted();
      }
      await upstream.nextRequest();
      expectAccounted();
    }
    await vi.waitFor(() => expect(forwarder.stats.queued).toBe(0), { timeout: 3_000 });

    expectAccounted();
    expect(forwarder.stats.forwarded).toBe(upstream.accepted.length);
    expect(new Set(upstream.accepted).size).toBe(upstream.accepted.length);
    expect(forwarder.stats.dropped).toBeGreaterThan(0);
  });

  it('refuses, and counts as dropped, a single batch larger than the whole bound', async () => {
    const upstream = await startUpstream(() => ({ status: 200 }));
    const forwarder = startForwarder({ url: upstream.url, maxQueuedBytes: BOUND });

    forwarder.enqueue('traces', batch(0, BOUND + 1), 'application/json');

    expect(forwarder.stats).toMatchObject({ forwarded: 0, dropped: 1, queued: 0, queuedBytes: 0 });
  });
});

describe('OtlpForwarder Retry-After', () => {
  const MAX_BACKOFF_MS = 200;
  /** Room for scheduling and the second request's round trip on a busy test machine. */
  const SLACK_MS = 800;
  const ONE_HOUR_S = 3_600;

  it.each([
    ['delay-seconds', () => String(ONE_HOUR_S)],
    ['HTTP-date', () => new Date(Date.now() + ONE_HOUR_S * 1_000).toUTCString()],
  ])('honours a %s Retry-After of an hour only up to maxBackoffMs', async (_form, retryAfter) => {
    const upstream = await startUpstream((n) => (n === 0 ? { status: 503, headers: { 'retry-after': retryAfter() } } : { status: 200 }));
    const forwarder = startForwarder({ url: upstream.url, maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: MAX_BACKOFF_MS });

    forwarder.enqueue('metrics', batch(0, 10), 'application/x-protobuf');
    await vi.waitFor(() => expect(forwarder.stats.forwarded).toBe(1), { timeout: MAX_BACKOFF_MS + SLACK_MS });

    expect(upstream.arrivals).toHaveLength(2);
    expect(upstream.arrivals[1]! - upstream.arrivals[0]!).toBeLessThanOrEqual(MAX_BACKOFF_MS + SLACK_MS);
    expect(forwarder.stats).toMatchObject({ forwarded: 1, retried: 1, dropped: 0, queued: 0 });
  });
});
