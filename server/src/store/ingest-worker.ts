/**
 * An ingest worker thread: parses and decodes OTLP bodies, then commits them (and the
 * server's own records) in group commits under the shared write lock, replying to each
 * message only after its data is committed. Several run in parallel; the main thread only
 * speaks HTTP.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { decodeOtlpBody, forwardJson, isMalformed, type DecodedBody } from '../core/otlp-body.js';
import type { DecodeLimits } from '../core/otlp-json.js';
import type { MetricPointRecord } from '../core/telemetry-records.js';
import type { IngestReply, IngestRequest, IngestWorkerData } from './ingest-messages.js';
import { prepareSpans, TelemetryStore, type PreparedSpan } from './telemetry-store.js';
import { acquireWriteLock, releaseWriteLock } from './write-lock.js';

const data = workerData as IngestWorkerData;
const experimentKeys = new Set(data.experimentKeys);
const store = new TelemetryStore({ path: data.path, isExperimentKey: (key) => experimentKeys.has(key), requestService: data.requestService ?? undefined });
// Commits never checkpoint (that would stall every writer behind the lock); the checkpoint
// thread does it, PASSIVE, alongside the commits.
store.disableAutoCheckpoint();
/** How often the checkpoint thread moves committed WAL pages into the database file. */
const CHECKPOINT_INTERVAL_MS = 200;
if (data.role === 'checkpoint') {
  setInterval(() => store.checkpoint(), CHECKPOINT_INTERVAL_MS);
}
const limits: DecodeLimits | undefined = data.limits ?? undefined;

interface Pending {
  readonly id: number;
  readonly spans: readonly PreparedSpan[];
  readonly points: readonly MetricPointRecord[];
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
    decoded = decodeOtlpBody(request.signal, request.encoding, body, { trusted: request.trusted, limits });
  } catch (error) {
    reply(isMalformed(error) ? { id: request.id, malformed: error.message } : { id: request.id, error: (error as Error).message });
    return;
  }
  const { spans, points, rejected, errors } = decoded;
  // What is forwarded is what was accepted, re-encoded and marked with its source.
  const done: IngestReply = { id: request.id, rejected, errors, forward: request.forward ? forwardJson(request.signal, decoded) : undefined };
  if (request.parseOnly) reply(done);
  else enqueue({ id: request.id, spans: prepareSpans(spans), points, reply: done });
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
    for (const p of batch) reply({ id: p.id, error: (error as Error).message });
    return;
  }
  for (const p of batch) reply(p.reply);
}

parentPort!.on('message', (request: IngestRequest) => {
  if (request.kind === 'otlp') handleOtlp(request);
  else if (request.kind === 'records') enqueue({ id: request.id, spans: prepareSpans(request.spans), points: request.points, reply: { id: request.id, rejected: 0, errors: [] } });
  else if (request.kind === 'close') {
    void (async () => {
      while (commits !== undefined) await commits;
      store.close();
      reply({ id: request.id, rejected: 0, errors: [] });
    })();
  }
});
