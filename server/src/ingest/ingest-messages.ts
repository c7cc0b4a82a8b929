/** Messages between the main thread and the ingest workers. */
import type { DecodeLimits } from '../core/otlp-json.js';
import type { MetricPointRecord, SpanRecord } from '../core/telemetry-records.js';

export interface IngestWorkerData {
  readonly path: string;
  readonly experimentKeys: readonly string[];
  /** The experiments' variants as `key=variant`: what untrusted metric points are rolled up by (null: any). */
  readonly knownVariants: readonly string[] | null;
  readonly requestService: string | null;
  readonly limits: DecodeLimits | null;
  /** Retention age in ms (0: none): older OTLP is refused (see `DecodeOptions.maxAgeMs`). */
  readonly maxAgeMs: number;
  readonly lock: SharedArrayBuffer;
  /** `ingest` decodes and commits; `checkpoint` only moves the WAL into the database, off the commit path. */
  readonly role: 'ingest' | 'checkpoint';
}

export type IngestRequest =
  | {
      readonly kind: 'otlp';
      readonly id: number;
      readonly signal: 'traces' | 'metrics';
      readonly encoding: 'json' | 'protobuf';
      readonly body: Uint8Array;
      /** Decode, reply, store nothing: the benchmark's ceiling. */
      readonly parseOnly: boolean;
      /** Sent by the deployment's own services with the internal token. */
      readonly trusted: boolean;
      /** Reply with the accepted items as OTLP/JSON marked with their source, for forwarding. */
      readonly forward: boolean;
    }
  | { readonly kind: 'records'; readonly id: number; readonly spans: readonly SpanRecord[]; readonly points: readonly MetricPointRecord[] }
  | { readonly kind: 'close'; readonly id: number };

/** Committed (with what was rejected), malformed (400), or failed (503; `commit` when the transaction failed). */
export type IngestReply =
  | { readonly id: number; readonly rejected: number; readonly errors: readonly string[]; readonly forward?: string }
  | { readonly id: number; readonly malformed: string }
  | { readonly id: number; readonly error: string; readonly commit?: boolean };

/** From the checkpoint thread, when checkpoints start failing (the error) or succeed again (null). */
export interface CheckpointReport {
  readonly checkpoint: string | null;
}
