/**
 * One OTLP/HTTP body, JSON or protobuf, decoded into records, and the accepted records as the
 * endpoint forwards them. Shared by the ingest workers and the stateless endpoint (`STORE=none`).
 */
import { encodeMetricsRequest, encodeTraceRequest } from './otlp-encode.js';
import { decodeMetricsRequest, decodeTraceRequest, MalformedOtlpError, type DecodeLimits } from './otlp-json.js';
import { decodeMetricsProtobuf, decodeTraceProtobuf, MalformedProtobufError } from './otlp-protobuf.js';
import type { MetricPointRecord, SpanRecord } from './telemetry-records.js';

export type OtlpSignal = 'traces' | 'metrics';
export type OtlpEncoding = 'json' | 'protobuf';

/** What one body held: the accepted records and what was rejected, with the first reasons. */
export interface DecodedBody {
  readonly spans: SpanRecord[];
  readonly points: MetricPointRecord[];
  readonly rejected: number;
  readonly errors: string[];
}

function parse(signal: OtlpSignal, encoding: OtlpEncoding, body: Buffer): unknown {
  if (encoding === 'protobuf') return signal === 'traces' ? decodeTraceProtobuf(body) : decodeMetricsProtobuf(body);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new MalformedOtlpError(`body is not valid JSON: ${(error as Error).message}`);
  }
}

/** Decodes a body; throws `MalformedOtlpError` or `MalformedProtobufError` when it is no export request at all. */
export function decodeOtlpBody(signal: OtlpSignal, encoding: OtlpEncoding, body: Buffer, options: { trusted: boolean; limits?: DecodeLimits; maxAgeMs?: number }): DecodedBody {
  const raw = parse(signal, encoding, body);
  if (signal === 'traces') {
    const { items, rejected, errors } = decodeTraceRequest(raw, options);
    return { spans: items, points: [], rejected, errors };
  }
  const { items, rejected, errors } = decodeMetricsRequest(raw, options);
  return { spans: [], points: items, rejected, errors };
}

/** Whether an error means the body is malformed (400), not that something failed. */
export function isMalformed(error: unknown): error is Error {
  return error instanceof MalformedOtlpError || error instanceof MalformedProtobufError;
}

/** The accepted records as OTLP/JSON marked with their source, or undefined when nothing was accepted. */
export function forwardJson(signal: OtlpSignal, decoded: DecodedBody): string | undefined {
  if (decoded.spans.length + decoded.points.length === 0) return undefined;
  return JSON.stringify(signal === 'traces' ? encodeTraceRequest(decoded.spans) : encodeMetricsRequest(decoded.points));
}
