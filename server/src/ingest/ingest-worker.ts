/**
 * An ingest worker thread: parses and decodes OTLP bodies, then commits them (and the
 * server's own records) in group commits under the shared write lock, replying to each
 * message only after its data is committed. Several run in parallel; the main thread only
 * speaks HTTP.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { decodeOtlpBody, forwardJson, isMalformed, type DecodedBody } from '../core/otlp-body.js';
import type { DecodeLimits } from '../core/otlp-json.js';
import type { CheckpointReport, IngestReply, IngestRequest, IngestWorkerData } from './ingest-messages.js';
import { preparePoints, prepareSpans, TelemetryStore, type PreparedPoint, type PreparedSpan } from '../store/telemetry-store.js';
import { acquireWriteLock, releaseWriteLock } from './write-lock.js';

const data = workerData as IngestWorkerData;
const experimentKeys = new Set(data.experimentKeys);
const knownVariants = data.knownVariants === null ? undefined : new Set(data.knownVariants);
/** How often the checkpoint thread moves committed WAL pages into the database file. */
const CHECKPOINT_INTERVAL_MS = 200;
/**
 * What a WAL file is cut back to when it starts over: above what it reaches under full ingest
 * (120–145 MB in the ingest benchmark), so that a steady WAL is reused, not cut and grown again.
 */
const WAL_SIZE_LIMIT_BYTES = 256 * 1024 * 1024;
/**
 * WAL pages (16 KiB) beyond which the WAL is started over: 64 MiB, about a second of full
 * ingest. Each restart holds the write lock (13–30 ms here, see `checkpointOnce`): at 4 MiB it
 * started over at every tick under full ingest, holding it 20–40 ms each time; commits waited
 * 4 µs a span longer than with no restart, and the benchmark stored about 10 % less.
 */
const WAL_RESTART_PAGES = 4096;
/** A pass that found at most this many new pages (16 KiB) was short: little was committed during it. */
const CATCH_UP_PAGES = 16;
/** Most PASSIVE passes before a restart: each copies what was committed during the one before. */
const CATCH_UP_PASSES = 4;
/** How long a restart waits for readers while it holds the write lock; a reader still there defers it to the next tick. */
const RESTART_READER_WAIT_MS = 50;
function open(): TelemetryStore {
  const opened = new TelemetryStore({
    path: data.path,
    isExperimentKey: (key) => experimentKeys.has(key),
    isKnownVariant: knownVariants === undefined ? undefined : (key, variant) => knownVariants.has(`${key}=${variant}`),
    requestService: data.requestService ?? undefined,
  });
  // Commits never checkpoint (that would stall every writer behind the lock); the checkpoint
  // thread does it, PASSIVE, alongside the commits.
  opened.disableAutoCheckpoint();
  // A WAL that grew while checkpoints could not run (a full disk) is cut back when it starts over.
  opened.limitWalSize(WAL_SIZE_LIMIT_BYTES);
  return opened;
}
let store = open();
if (data.role === 'checkpoint') {
  let failing = false;
  let running = false;
  setInterval(() => {
    if (running) return;
    running = true;
    void checkpointOnce()
      .then(() => {
        if (failing) parentPort!.postMessage({ checkpoint: null } satisfies CheckpointReport);
        failing = false;
      })
      .catch((error: unknown) => {
        // A checkpoint that fails (a full disk) must not end the thread: thrown out of the
        // timer, it did, and the WAL then grew for good once space was back. It is tried again
        // on the next tick, on a fresh connection, and the main thread is told (see `/healthz`).
        if (!failing) parentPort!.postMessage({ checkpoint: (error as Error).message } satisfies CheckpointReport);
        failing = true;
        try {
          store.close();
          store = open();
        } catch {
          // Still no room to open it: the next tick tries again.
        }
      })
      .finally(() => (running = false));
  }, CHECKPOINT_INTERVAL_MS);
}

/**
 * Copies the WAL into the database, and once it holds more than `WAL_RESTART_PAGES` has the
 * next commit write it from its start again. The bulk is copied alongside the commits; the
 * restart takes the write lock for a moment (the few pages committed meanwhile). PASSIVE
 * checkpoints alone copied everything, yet under steady ingest the WAL never started over
 * and grew by all that was written (36 MB for 26 MB of spans in a test).
 *
 * The restart copies (and syncs) under the lock what was committed since the last pass began:
 * after one pass over a 64 MiB WAL that was 4–7 MiB, and the lock was held 40–55 ms. So passes
 * repeat, each copying what was committed during the one before, until one finds little new
 * (held 13–30 ms).
 */
async function checkpointOnce(): Promise<void> {
  let pages = store.checkpoint();
  if (pages <= WAL_RESTART_PAGES) return;
  for (let pass = 1; pass < CATCH_UP_PASSES; pass += 1) {
    const before = pages;
    pages = store.checkpoint();
    if (pages - before <= CATCH_UP_PAGES) break;
  }
  await acquireWriteLock(data.lock);
  try {
    store.restartWal(RESTART_READER_WAIT_MS);
  } finally {
    releaseWriteLock(data.lock);
  }
}

const limits: DecodeLimits | undefined = data.limits ?? undefined;

interface Pending {
  readonly id: number;
  readonly spans: readonly PreparedSpan[];
  readonly points: readonly PreparedPoint[];
  readonly reply: IngestReply;
}

let pending: Pending[] = [];
let committing = false;
/** The running commit loop, which `close` awaits; undefined when nothing is being committed. */
let commits: Promise<void> | undefined;

function reply(message: IngestReply): void {
  parentPort!.postMessage(message);
}

function handleOtlp(request: Extract<IngestRequest, { kind: 'otlp' }>): void {
  let decoded: DecodedBody;
  try {
    const body = Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength);
    decoded = decodeOtlpBody(request.signal, request.encoding, body, { trusted: request.trusted, limits, maxAgeMs: data.maxAgeMs });
  } catch (error) {
    reply(isMalformed(error) ? { id: request.id, malformed: error.message } : { id: request.id, error: (error as Error).message });
    return;
  }
  const { spans, points, rejected, errors } = decoded;
  // What is forwarded is what was accepted, re-encoded and marked with its source.
  const done: IngestReply = { id: request.id, rejected, errors, forward: request.forward ? forwardJson(request.signal, decoded) : undefined };
  if (request.parseOnly) reply(done);
  else enqueue({ id: request.id, spans: prepareSpans(spans), points: preparePoints(points), reply: done });
}

function enqueue(item: Pending): void {
  pending.push(item);
  if (!committing) {
    committing = true;
    // Let the messages already waiting be decoded first: they join this transaction.
    commits = new Promise((resolve) => setImmediate(resolve)).then(commitLoop);
  }
}

/** Commits everything pending, in one transaction per turn of the write lock, until nothing is left. */
async function commitLoop(): Promise<void> {
  while (pending.length > 0) {
    await acquireWriteLock(data.lock);
    // Taken after the lock: what was decoded while waiting goes in too.
    const batch = pending;
    pending = [];
    try {
      commitBatch(batch);
    } finally {
      releaseWriteLock(data.lock);
    }
  }
  committing = false;
  commits = undefined;
}

function commitBatch(batch: readonly Pending[]): void {
  try {
    store.writePrepared(
      batch.flatMap((p) => p.spans),
      batch.flatMap((p) => p.points),
    );
  } catch (error) {
    for (const p of batch) reply({ id: p.id, error: (error as Error).message, commit: true });
    return;
  }
  for (const p of batch) reply(p.reply);
}

parentPort!.on('message', (request: IngestRequest) => {
  if (request.kind === 'otlp') handleOtlp(request);
  else if (request.kind === 'records') enqueue({ id: request.id, spans: prepareSpans(request.spans), points: preparePoints(request.points), reply: { id: request.id, rejected: 0, errors: [] } });
  else if (request.kind === 'close') {
    void (async () => {
      while (commits !== undefined) await commits;
      store.close();
      reply({ id: request.id, rejected: 0, errors: [] });
    })();
  }
});
