/**
 * A mutex shared by the ingest workers (a SharedArrayBuffer word): SQLite allows one writer
 * at a time. Waiting is asynchronous (Atomics.waitAsync), so a worker keeps decoding the
 * requests that arrive while another worker commits — and commits them in the same
 * transaction once its turn comes.
 */
const UNLOCKED = 0;
const LOCKED = 1;
/** Wake up at least this often to re-check, in case a notify is missed. */
const WAIT_SLICE_MS = 50;

export function createWriteLock(): SharedArrayBuffer {
  return new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
}

/** Resolves once the lock is held; call `releaseWriteLock` after the commit. */
export async function acquireWriteLock(lock: SharedArrayBuffer): Promise<void> {
  const word = new Int32Array(lock);
  while (Atomics.compareExchange(word, 0, UNLOCKED, LOCKED) !== UNLOCKED) {
    const waited = Atomics.waitAsync(word, 0, LOCKED, WAIT_SLICE_MS);
    if (waited.async) await waited.value;
  }
}

export function releaseWriteLock(lock: SharedArrayBuffer): void {
  const word = new Int32Array(lock);
  Atomics.store(word, 0, UNLOCKED);
  Atomics.notify(word, 0, 1);
}
