/**
 * Reads an OTLP request body, inflating it as its `Content-Encoding` says, with every byte
 * counted while it arrives: bodies held open cost memory long before they reach the ingest
 * workers, so the bytes being read (after inflation) count against the same in-flight limit,
 * only so many bodies are read at once, and a body that does not arrive in time is refused.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { HttpError } from '../http/http-error.js';

/** The budget bodies are read against (the ingest pool's in-flight bytes). */
export interface BodyBudget {
  /** Takes `bytes` more of the in-flight budget for a body that holds `held` already; false when they do not fit. */
  reserve(bytes: number, held: number): boolean;
  release(bytes: number): void;
}

/** Bounds on reading bodies. */
export interface BodyLimits {
  /** Largest body, compressed and after decompression, in bytes. */
  readonly maxBytes: number;
  /** Most bodies read at once; beyond it requests are refused as overload (503). */
  readonly maxOpenBodies: number;
  /** Time from the request's headers to its body's last byte; a slower body is refused (408). */
  readonly timeoutMs: number;
}

/** The largest body one request may send, compressed and after decompression, and the setting that says so. */
export interface BodyLimit {
  readonly bytes: number;
  readonly setting: string;
}

/** Refused for want of room: 503 with `Retry-After`, retried by the exporter. */
export class BodyOverloadError extends Error {}

const DECOMPRESSORS: Record<string, (() => NodeJS.ReadWriteStream) | undefined> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/** Counts the bodies being read, to cap them (one per server). */
export class OpenBodies {
  private open = 0;

  /** The limit of a body the caller names none for. */
  private readonly defaultLimit: BodyLimit;

  constructor(private readonly limits: BodyLimits) {
    this.defaultLimit = { bytes: limits.maxBytes, setting: 'MAX_BODY_BYTES' };
  }

  get count(): number {
    return this.open;
  }

  /**
   * The body of `req`, inflated; its bytes are held in `budget` as they arrive and handed back
   * with it (`reserved`): the caller releases them once it no longer holds the body. The body's
   * memory is its own (no other Buffer shares it), so it can be transferred to a worker as is.
   */
  async read(req: IncomingMessage, budget: BodyBudget, limit: BodyLimit = this.defaultLimit): Promise<{ body: Buffer; reserved: number }> {
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    const decompress = encoding === 'identity' || encoding === '' ? undefined : DECOMPRESSORS[encoding];
    if (decompress === undefined && encoding !== 'identity' && encoding !== '') {
      throw new HttpError(415, `content-encoding ${req.headers['content-encoding']} is not supported, expected gzip, deflate or br (or none)`);
    }
    if (this.open >= this.limits.maxOpenBodies) throw new BodyOverloadError(`${this.open} request bodies are being received`);
    this.open += 1;
    let reserved = 0;
    try {
      const body = await this.collect(req, decompress?.(), encoding, limit, (bytes) => {
        if (!budget.reserve(bytes, reserved)) throw new BodyOverloadError('the telemetry being received and stored is at INGEST_MAX_IN_FLIGHT_BYTES');
        reserved += bytes;
      });
      return { body, reserved };
    } catch (error) {
      budget.release(reserved);
      throw error;
    } finally {
      this.open -= 1;
    }
  }

  private collect(req: IncomingMessage, inflater: NodeJS.ReadWriteStream | undefined, encoding: string, limit: BodyLimit, count: (bytes: number) => void): Promise<Buffer> {
    const { timeoutMs } = this.limits;
    const maxBytes = limit.bytes;
    const tooLarge = () => new HttpError(413, `body is larger than the limit of ${maxBytes} bytes (${limit.setting})`);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(tooLarge());
    return new Promise((resolve, reject) => {
      const bytes = new BodyBytes(inflater === undefined && Number.isFinite(declared) ? declared : undefined);
      let received = 0;
      let inflated = 0;
      let settled = false;
      const source: Readable = inflater === undefined ? req : (req.pipe(inflater) as unknown as Readable);
      const finish = (error: Error | undefined, body?: Buffer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (inflater !== undefined) {
          req.unpipe(inflater as unknown as NodeJS.WritableStream);
          (inflater as unknown as Readable).destroy();
        }
        if (error !== undefined) reject(error);
        else resolve(body!);
      };
      const timer = setTimeout(() => finish(new HttpError(408, `body was not received within ${timeoutMs} ms (INGEST_BODY_TIMEOUT_MS)`)), timeoutMs);
      if (inflater !== undefined) {
        req.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > maxBytes) finish(tooLarge());
        });
      }
      source.on('data', (chunk: Buffer) => {
        if (settled) return;
        inflated += chunk.length;
        if (inflated > maxBytes) return finish(tooLarge());
        try {
          count(chunk.length);
        } catch (error) {
          return finish(error as Error);
        }
        bytes.add(chunk);
      });
      source.once('end', () => finish(undefined, bytes.body()));
      source.once('error', (error: Error) =>
        finish(new HttpError(400, inflater !== undefined ? `body is not valid ${encoding} (${error.message})` : `the body could not be received (${error.message})`)),
      );
      req.once('aborted', () => finish(new HttpError(400, 'the request was aborted before its body was complete')));
    });
  }
}

/**
 * Largest declared length whose buffer is allocated before the bytes arrive (so bodies held
 * open take at most `maxOpenBodies` MiB beyond the bytes the budget counts). Above it, and for
 * inflated or chunked bodies, the chunks are kept and copied once at the end.
 */
const MAX_PREALLOCATED_BYTES = 1024 * 1024;

/**
 * A body's bytes gathered into one buffer of its own, copied once: straight into a buffer of
 * the declared length when there is one, else from the chunks at the end. Not `Buffer.concat`,
 * whose small results share Node's pool and so could not be handed to a worker without another
 * copy; each copy of a body is memory the garbage collector must account for and free.
 */
class BodyBytes {
  private filled = 0;
  private target: Buffer | undefined;
  private readonly chunks: Buffer[] = [];

  constructor(declared: number | undefined) {
    if (declared !== undefined && declared > 0 && declared <= MAX_PREALLOCATED_BYTES) this.target = Buffer.allocUnsafeSlow(declared);
  }

  add(chunk: Buffer): void {
    if (this.target !== undefined && this.filled + chunk.length <= this.target.length) chunk.copy(this.target, this.filled);
    else {
      // More than declared (the HTTP parser does not let it happen): keep the chunks instead.
      this.spill();
      this.chunks.push(chunk);
    }
    this.filled += chunk.length;
  }

  body(): Buffer {
    if (this.target !== undefined && this.filled === this.target.length) return this.target;
    this.spill();
    const body = Buffer.allocUnsafeSlow(this.filled);
    let offset = 0;
    for (const chunk of this.chunks) offset += chunk.copy(body, offset);
    return body;
  }

  /** The bytes written into the declared-length buffer become the first chunk; chunks are kept from here on. */
  private spill(): void {
    if (this.target !== undefined) this.chunks.push(this.target.subarray(0, this.filled));
    this.target = undefined;
  }
}
