/**
 * What a body without a service token may hold, counted before it is decoded. Its size alone
 * does not bound what decoding it costs: two bytes (`0a 00`) are an empty `ResourceSpans`, and
 * 5 MiB of them — 5 KB of gzip — were 2.6 million objects, 2.9 s of an ingest worker and 450 MB
 * (server/test/untrusted-body-bounds.test.ts). Browsers send
 * a resource or two and a batch of spans (the SDK at most 30); these bounds are far above that
 * and far below what stalls a worker.
 */
import { MalformedProtobufError } from './otlp-protobuf.js';

/** Resources and scopes in one request. */
export const MAX_UNTRUSTED_CONTAINERS = 1000;
/** Spans, or metrics and their points, in one request. */
export const MAX_UNTRUSTED_ITEMS = 10_000;
/** Objects (`{`) in one OTLP/JSON request. */
export const MAX_UNTRUSTED_JSON_OBJECTS = 100_000;

/** A body over the bounds: answered 400 with the message. */
export class TooManyMessagesError extends Error {}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/**
 * Calls `visit` for each length-delimited field of the message in `bytes[start, end)`, with its
 * field number and content's bounds, skipping the other fields. Allocates nothing per field.
 */
function eachMessageField(bytes: Uint8Array, start: number, end: number, visit: (field: number, from: number, to: number) => void): void {
  let pos = start;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      if (pos >= end || shift > 49) throw new MalformedProtobufError('a varint runs past its message');
      const byte = bytes[pos++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  while (pos < end) {
    const key = varint();
    const wire = key % 8;
    if (wire === WIRE_VARINT) varint();
    else if (wire === WIRE_FIXED64) pos += 8;
    else if (wire === WIRE_FIXED32) pos += 4;
    else if (wire === WIRE_LEN) {
      const length = varint();
      if (pos + length > end) throw new MalformedProtobufError('a field runs past its message');
      visit(Math.floor(key / 8), pos, pos + length);
      pos += length;
    } else throw new MalformedProtobufError(`wire type ${wire} is not one OTLP uses`);
    if (pos > end) throw new MalformedProtobufError('a field runs past its message');
  }
}

/** Metric fields that hold data points: gauge, sum, histogram, exponential histogram, summary. */
const POINT_HOLDERS = new Set([5, 7, 9, 10, 11]);

/** Throws `TooManyMessagesError` when an OTLP protobuf export holds more than a browser's batch may. */
export function checkProtobufCounts(signal: 'traces' | 'metrics', bytes: Uint8Array): void {
  let containers = 0;
  let items = 0;
  eachMessageField(bytes, 0, bytes.length, (field, from, to) => {
    if (field !== 1) return;
    containers += 1;
    eachMessageField(bytes, from, to, (resourceField, scopeFrom, scopeTo) => {
      if (resourceField !== 2) return;
      containers += 1;
      eachMessageField(bytes, scopeFrom, scopeTo, (scopeField, itemFrom, itemTo) => {
        if (scopeField !== 2) return;
        items += 1;
        if (signal === 'metrics') {
          eachMessageField(bytes, itemFrom, itemTo, (metricField, dataFrom, dataTo) => {
            if (!POINT_HOLDERS.has(metricField)) return;
            eachMessageField(bytes, dataFrom, dataTo, (dataField) => {
              if (dataField === 1) items += 1;
            });
          });
        }
      });
    });
  });
  if (containers > MAX_UNTRUSTED_CONTAINERS) throw new TooManyMessagesError(`it holds ${containers} resources and scopes, at most ${MAX_UNTRUSTED_CONTAINERS} without a service token`);
  const what = signal === 'traces' ? 'spans' : 'metrics and points';
  if (items > MAX_UNTRUSTED_ITEMS) throw new TooManyMessagesError(`it holds ${items} ${what}, at most ${MAX_UNTRUSTED_ITEMS} without a service token`);
}

const OPEN_BRACE = 0x7b;

/** Throws `TooManyMessagesError` when an OTLP/JSON export holds more objects than a browser's batch may (a brace in a string counts too). */
export function checkJsonCounts(bytes: Uint8Array): void {
  let objects = 0;
  for (let at = bytes.indexOf(OPEN_BRACE); at !== -1; at = bytes.indexOf(OPEN_BRACE, at + 1)) objects += 1;
  if (objects > MAX_UNTRUSTED_JSON_OBJECTS) throw new TooManyMessagesError(`it holds ${objects} JSON objects, at most ${MAX_UNTRUSTED_JSON_OBJECTS} without a service token`);
}
