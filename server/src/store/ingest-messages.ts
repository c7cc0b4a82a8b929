/** Messages between the main thread and the ingest workers. */
import type { DecodeLimits } from '../core/otlp-json.js';
import type { MetricPointRecord, SpanRecord } from '../core/telemetry-records.js';

export interface IngestWorkerData {
  readonly path: string;
  readonly experimentKeys: readonly string[];
  readonly requestService: string | null;
  readonly limits: DecodeLimits | null;
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

/** Committed (with what was rejected), malformed (400), or failed (503). */
export type IngestReply =
  | { readonly id: number; readonly rejected: number; readonly errors: readonly string[]; readonly forward?: string }
  | { readonly id: number; readonly malformed: string }
  | { readonly id: number; readonly error: string };
