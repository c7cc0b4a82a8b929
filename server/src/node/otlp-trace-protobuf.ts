import type { AttributeValue, Attributes, HrTime, Link, SpanContext, SpanStatus } from '@opentelemetry/api';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { LeanEvent, LeanSpan, type LeanTime } from './lean-span.js';

/**
 * OTLP/protobuf `ExportTraceServiceRequest` bytes of a batch of finished spans, written in one
 * pass straight from the `ReadableSpan`s. The bytes are those of the OpenTelemetry JS
 * serializer (`ProtobufTraceSerializer` of `@opentelemetry/otlp-transformer`), field for field
 * and in the same order (test: otlp-trace-protobuf.test.ts compares them); what it saves is
 * that serializer's first pass, which walks every span once more only to size the buffer,
 * its string encoding in JavaScript, and a new array per id. It was the largest single
 * piece of a request's telemetry cost in the Express benchmark (bench/RESULTS.md).
 */
export function encodeReadableSpans(spans: readonly ReadableSpan[]): Uint8Array {
  const batch = new EncodedSpanBatch();
  for (const span of spans) batch.add(span);
  return batch.take() ?? new Uint8Array(0);
}

type Resource = ReadableSpan['resource'];
type Scope = ReadableSpan['instrumentationScope'];

/**
 * Spans encoded as they end, kept as bytes grouped by resource and instrumentation scope
 * (by identity, in first-seen order), until `take` frames them as one
 * `ExportTraceServiceRequest` — the bytes `encodeReadableSpans` gives for the same spans. A
 * processor that encodes at the end of each span holds no span objects between exports, so
 * they die young and the garbage collector never copies or promotes them.
 */
export class EncodedSpanBatch {
  private groups = new Map<Resource, Map<Scope, ProtobufWriter>>();
  /**
   * The writers of the last batch, emptied, by scope: a scope's next batch starts with the
   * room its last one grew to, instead of growing (and copying) from 4 KiB again each time.
   */
  private spare = new Map<Scope, ProtobufWriter>();
  /** Spans added since the last `take`. */
  spans = 0;
  /** Their encoded bytes. */
  bytes = 0;

  add(span: ReadableSpan): void {
    let scopes = this.groups.get(span.resource);
    if (scopes === undefined) {
      scopes = new Map();
      this.groups.set(span.resource, scopes);
    }
    let writer = scopes.get(span.instrumentationScope);
    if (writer === undefined) {
      writer = this.spare.get(span.instrumentationScope) ?? new ProtobufWriter(MIN_BUFFER_BYTES);
      this.spare.delete(span.instrumentationScope);
      scopes.set(span.instrumentationScope, writer);
    }
    const before = writer.length;
    writer.tag(2, LENGTH_DELIMITED);
    writeSpan(writer, span);
    this.bytes += writer.length - before;
    this.spans += 1;
  }

  /** The request of every span added since the last call, or undefined when there were none. */
  take(): Uint8Array | undefined {
    if (this.spans === 0) return undefined;
    const groups = this.groups;
    this.groups = new Map();
    // Only the scopes of this batch stay spare: one that stopped making spans frees its buffer.
    const spare = new Map<Scope, ProtobufWriter>();
    this.spare = spare;
    const writer = new ProtobufWriter(this.bytes + FRAMING_BYTES);
    this.spans = 0;
    this.bytes = 0;
    for (const [resource, scopes] of groups) {
      writer.tag(1, LENGTH_DELIMITED);
      const resourceSpans = writer.begin();
      writer.tag(1, LENGTH_DELIMITED);
      const resourceMessage = writer.begin();
      writeAttributes(writer, resource.attributes, 1);
      writer.tag(2, VARINT);
      writer.varint(0);
      writer.end(resourceMessage);
      for (const [scope, spans] of scopes) {
        writer.tag(2, LENGTH_DELIMITED);
        const scopeSpans = writer.begin();
        writeScope(writer, scope);
        writer.raw(spans.finish());
        spans.reset();
        spare.set(scope, spans);
        if (scope.schemaUrl) {
          writer.tag(3, LENGTH_DELIMITED);
          writer.string(scope.schemaUrl);
        }
        writer.end(scopeSpans);
      }
      if (resource.schemaUrl) {
        writer.tag(3, LENGTH_DELIMITED);
        writer.string(resource.schemaUrl);
      }
      writer.end(resourceSpans);
    }
    return writer.finish();
  }
}

function writeScope(writer: ProtobufWriter, scope: Scope): void {
  writer.tag(1, LENGTH_DELIMITED);
  const message = writer.begin();
  writer.tag(1, LENGTH_DELIMITED);
  writer.string(scope.name);
  if (scope.version) {
    writer.tag(2, LENGTH_DELIMITED);
    writer.string(scope.version);
  }
  const { attributes, droppedAttributesCount } = scope as { attributes?: Attributes; droppedAttributesCount?: number };
  if (attributes) writeAttributes(writer, attributes, 3);
  if (droppedAttributesCount) {
    writer.tag(4, VARINT);
    writer.varint(droppedAttributesCount);
  }
  writer.end(message);
}

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;
/** W3C trace flags sit in the low byte of `Span.flags`; these two say whether the parent was remote. */
const FLAGS_HAS_IS_REMOTE = 0x100;
const FLAGS_IS_REMOTE = 0x200;
const MIN_BUFFER_BYTES = 4096;
const MIN_BLOCK_BYTES = 256;
/** Room for the resource and scope messages around a batch's spans. */
const FRAMING_BYTES = 1024;
const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

function writeSpan(writer: ProtobufWriter, span: ReadableSpan): void {
  const message = writer.begin();
  const context = span.spanContext();
  writeIds(writer, context);
  const parent = span.parentSpanContext;
  if (parent?.spanId) {
    writer.tag(4, LENGTH_DELIMITED);
    writer.hex(parent.spanId);
  }
  writer.tag(5, LENGTH_DELIMITED);
  writer.string(span.name);
  // The API's kinds start at 0 (INTERNAL), the protocol's at 1: 0 is "unspecified" there.
  const kind = span.kind === undefined || span.kind === null ? 0 : span.kind + 1;
  if (kind !== 0) {
    writer.tag(6, VARINT);
    writer.varint(kind);
  }
  // A lean span's times are numbers until read; its experiment attributes and feature-flag
  // events are the middleware's frozen objects, shared by every request of an assignment:
  // their bytes are written once and reused.
  const lean = span instanceof LeanSpan;
  writer.tag(7, FIXED64);
  if (lean) writer.time(span.startAt);
  else writer.hrTime(span.startTime);
  writer.tag(8, FIXED64);
  if (lean) writer.time(span.endAt);
  else writer.hrTime(span.endTime);
  if (lean) {
    writeFrozenAttributes(writer, span.sharedAttributes, 9);
    writeAttributes(writer, span.ownAttributes, 9);
  } else {
    writeAttributes(writer, span.attributes, 9);
  }
  writer.tag(10, VARINT);
  writer.varint(span.droppedAttributesCount);
  const events = span.events;
  for (let i = 0; i < events.length; i++) {
    writer.tag(11, LENGTH_DELIMITED);
    writeEvent(writer, events[i]!, lean);
  }
  writer.tag(12, VARINT);
  writer.varint(span.droppedEventsCount);
  const links = span.links;
  for (let i = 0; i < links.length; i++) {
    writer.tag(13, LENGTH_DELIMITED);
    writeLink(writer, links[i]!);
  }
  writer.tag(14, VARINT);
  writer.varint(span.droppedLinksCount);
  writer.tag(15, LENGTH_DELIMITED);
  writeStatus(writer, span.status);
  writer.tag(16, FIXED32);
  writer.fixed32(spanFlags(context.traceFlags, parent?.isRemote));
  writer.end(message);
}

/** Fields 1-3 of a span and of a link alike: trace id, span id, trace state. */
function writeIds(writer: ProtobufWriter, context: SpanContext): void {
  writer.tag(1, LENGTH_DELIMITED);
  writer.hex(context.traceId);
  writer.tag(2, LENGTH_DELIMITED);
  writer.hex(context.spanId);
  const traceState = context.traceState?.serialize();
  if (traceState) {
    writer.tag(3, LENGTH_DELIMITED);
    writer.string(traceState);
  }
}

function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | FLAGS_HAS_IS_REMOTE | (isRemote ? FLAGS_IS_REMOTE : 0);
}

function writeEvent(writer: ProtobufWriter, event: TimedEvent, lean: boolean): void {
  const message = writer.begin();
  writer.tag(1, FIXED64);
  if (event instanceof LeanEvent) writer.time(event.at);
  else writer.hrTime(event.time);
  writer.tag(2, LENGTH_DELIMITED);
  writer.string(event.name);
  if (event.attributes) {
    if (lean && Object.isFrozen(event.attributes)) writeFrozenAttributes(writer, event.attributes, 3);
    else writeAttributes(writer, event.attributes, 3);
  }
  writer.tag(4, VARINT);
  writer.varint(event.droppedAttributesCount || 0);
  writer.end(message);
}

function writeLink(writer: ProtobufWriter, link: Link): void {
  const message = writer.begin();
  const context = link.context;
  writeIds(writer, context);
  if (link.attributes) writeAttributes(writer, link.attributes, 4);
  writer.tag(5, VARINT);
  writer.varint(link.droppedAttributesCount || 0);
  writer.tag(6, FIXED32);
  writer.fixed32(spanFlags(context.traceFlags, context.isRemote));
  writer.end(message);
}

function writeStatus(writer: ProtobufWriter, status: SpanStatus): void {
  const message = writer.begin();
  if (status.message) {
    writer.tag(2, LENGTH_DELIMITED);
    writer.string(status.message);
  }
  writer.tag(3, VARINT);
  writer.varint(status.code);
  writer.end(message);
}

function writeAttributes(writer: ProtobufWriter, attributes: Attributes, field: number): void {
  const tag = (field << 3) | LENGTH_DELIMITED;
  for (const key in attributes) {
    if (!Object.hasOwn(attributes, key)) continue;
    const attribute = attributes[key];
    // Most attributes here are a short ASCII key with a short ASCII string: written in one go.
    if (typeof attribute === 'string' && writer.shortStringKeyValue(tag, key, attribute)) continue;
    writer.tag(field, LENGTH_DELIMITED);
    const keyValue = writer.begin();
    writer.tag(1, LENGTH_DELIMITED);
    writer.string(key);
    writer.tag(2, LENGTH_DELIMITED);
    const value = writer.begin();
    writeAnyValue(writer, attribute);
    writer.end(value);
    writer.end(keyValue);
  }
}

/** The encoded attributes of frozen objects, by field number: a frozen object of primitives always encodes the same. */
const frozenBlocks = new Map<number, WeakMap<Attributes, Uint8Array>>();

/**
 * Attributes of a frozen object whose values are primitives (`LeanSpan` keeps only such by
 * reference): the bytes of `writeAttributes`, made on the object's first use.
 */
function writeFrozenAttributes(writer: ProtobufWriter, attributes: Attributes, field: number): void {
  let blocks = frozenBlocks.get(field);
  if (blocks === undefined) {
    blocks = new WeakMap();
    frozenBlocks.set(field, blocks);
  }
  let bytes = blocks.get(attributes);
  if (bytes === undefined) {
    const block = new ProtobufWriter(MIN_BLOCK_BYTES);
    writeAttributes(block, attributes, field);
    bytes = Uint8Array.prototype.slice.call(block.finish());
    blocks.set(attributes, bytes);
  }
  writer.raw(bytes);
}

/** An `AnyValue`'s fields (without its own tag and length). Types an attribute cannot hold write nothing, as upstream. */
function writeAnyValue(writer: ProtobufWriter, value: AttributeValue | Uint8Array | object | null | undefined): void {
  if (typeof value === 'string') {
    writer.tag(1, LENGTH_DELIMITED);
    writer.string(value);
  } else if (typeof value === 'boolean') {
    writer.tag(2, VARINT);
    writer.varint(value ? 1 : 0);
  } else if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) {
      writer.tag(3, VARINT);
      writer.varint(value);
    } else {
      writer.tag(4, FIXED64);
      writer.double(value);
    }
  } else if (value instanceof Uint8Array) {
    writer.tag(7, LENGTH_DELIMITED);
    writer.bytes(value);
  } else if (Array.isArray(value)) {
    writer.tag(5, LENGTH_DELIMITED);
    const array = writer.begin();
    const items = value as unknown[];
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (typeof item === 'string' && writer.shortStringItem(item)) continue;
      writer.tag(1, LENGTH_DELIMITED);
      const itemValue = writer.begin();
      writeAnyValue(writer, item as AttributeValue);
      writer.end(itemValue);
    }
    writer.end(array);
  } else if (typeof value === 'object' && value !== null) {
    writer.tag(6, LENGTH_DELIMITED);
    const list = writer.begin();
    writeAttributes(writer, value as Attributes, 1);
    writer.end(list);
  }
}

/**
 * Copies `text` into `buffer` from `at` unit by unit when it is all ASCII (one byte per unit): the
 * position after it, or -1 at the first other unit (the bytes copied until then lie beyond the
 * writer's position and are overwritten by whatever it writes next).
 */
function copyAscii(buffer: Buffer, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit > 0x7f) return -1;
    buffer[at++] = unit;
  }
  return at;
}

/** A hex digit's value as `hexToBinary` of @opentelemetry/otlp-transformer reads it (other characters as it does, too). */
function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  return code - 55;
}

/** Bytes of a varint holding `value` (0 ≤ value < 2^32). */
function varintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

/**
 * A growing buffer with the few protobuf writes a span needs. A length-delimited message
 * reserves one byte for its length and moves its content when the length needs more, so every
 * length is a minimal varint, as the OpenTelemetry serializer writes it.
 */
class ProtobufWriter {
  private buffer: Buffer;
  private pos = 0;

  constructor(size: number) {
    this.buffer = Buffer.allocUnsafe(size);
  }

  finish(): Uint8Array {
    return this.buffer.subarray(0, this.pos);
  }

  get length(): number {
    return this.pos;
  }

  /** Empties it, keeping its buffer (whose bytes must no longer be needed). */
  reset(): void {
    this.pos = 0;
  }

  /** Bytes already encoded, as they are. */
  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Starts a length-delimited message; `end` with what it returns. */
  begin(): number {
    this.reserve(1);
    return this.pos++;
  }

  end(start: number): void {
    const length = this.pos - start - 1;
    const size = varintSize(length);
    if (size > 1) {
      this.reserve(size - 1);
      this.buffer.copyWithin(start + size, start + 1, this.pos);
      this.pos += size - 1;
    }
    let at = start;
    let v = length;
    while (v > 0x7f) {
      this.buffer[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buffer[at] = v;
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  varint(value: number): void {
    this.reserve(10);
    const buffer = this.buffer;
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 0x7f) {
        buffer[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buffer[this.pos++] = v;
      return;
    }
    // 64 bits, negative numbers as two's complement (ten bytes), as int64 is encoded.
    let low: number;
    let high: number;
    const abs = Math.abs(value);
    low = abs >>> 0;
    high = Math.floor(abs / 0x100000000) >>> 0;
    if (value < 0) {
      low = ~low >>> 0;
      high = ~high >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    while (high > 0 || low > 0x7f) {
      buffer[this.pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buffer[this.pos++] = low & 0x7f;
  }

  fixed32(value: number): void {
    this.reserve(4);
    this.buffer.writeUInt32LE(value >>> 0, this.pos);
    this.pos += 4;
  }

  /** Nanoseconds since the epoch as fixed64, exact: seconds × 10^9 exceeds 2^53, so it is summed in 32-bit halves. */
  hrTime(time: HrTime): void {
    this.hrTimeParts(time[0], time[1]);
  }

  /** A lean span's time: epoch milliseconds as `millisToHrTime` would turn them into an `HrTime`, or an `HrTime`. */
  time(time: LeanTime): void {
    if (typeof time !== 'number') this.hrTimeParts(time[0], time[1]);
    else this.hrTimeParts(Math.trunc(time / 1000), Math.round((time % 1000) * 1e6));
  }

  private hrTimeParts(seconds: number, nanos: number): void {
    this.reserve(8);
    const fromLow = (seconds & 0xffff) * 1e9;
    const fromHigh = Math.floor(seconds / 0x10000) * 1e9;
    const lowSum = (fromLow >>> 0) + (((fromHigh & 0xffff) * 0x10000) >>> 0) + nanos;
    const low = lowSum >>> 0;
    const high = (Math.floor(fromLow / 0x100000000) + Math.floor(fromHigh / 0x10000) + Math.floor(lowSum / 0x100000000)) >>> 0;
    this.buffer.writeUInt32LE(low, this.pos);
    this.buffer.writeUInt32LE(high, this.pos + 4);
    this.pos += 8;
  }

  double(value: number): void {
    this.reserve(8);
    this.buffer.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.reserve(value.length);
    this.buffer.set(value, this.pos);
    this.pos += value.length;
  }

  /**
   * A trace or span id given in hex, as its bytes: the serializer's `hexToBinary`, digit for
   * digit (in JavaScript: a call into the native hex decoder cost twice as much per id).
   */
  hex(id: string): void {
    const size = id.length >>> 1;
    this.reserve(size + 1);
    const buffer = this.buffer;
    let at = this.pos;
    buffer[at++] = size;
    for (let i = 0; i < size; i++) buffer[at++] = (hexDigit(id.charCodeAt(2 * i)) << 4) | hexDigit(id.charCodeAt(2 * i + 1));
    this.pos = at;
  }

  /**
   * A `KeyValue` field (its one-byte `tag`) of a string attribute, when key and value are
   * ASCII and the whole fits in 127 bytes: the bytes of `tag`, `begin`, `string` and `end`
   * (every length one byte), written with one bounds check; false, with nothing written, otherwise.
   */
  shortStringKeyValue(tag: number, key: string, value: string): boolean {
    const keyLength = key.length;
    const valueLength = value.length;
    const content = keyLength + valueLength + 6;
    if (content > 0x7f) return false;
    this.reserve(content + 2);
    const buffer = this.buffer;
    const start = this.pos;
    buffer[start] = tag;
    buffer[start + 1] = content;
    buffer[start + 2] = (1 << 3) | LENGTH_DELIMITED;
    buffer[start + 3] = keyLength;
    let at = copyAscii(buffer, start + 4, key);
    if (at < 0) return false;
    buffer[at++] = (2 << 3) | LENGTH_DELIMITED;
    buffer[at++] = valueLength + 2;
    buffer[at++] = (1 << 3) | LENGTH_DELIMITED;
    buffer[at++] = valueLength;
    at = copyAscii(buffer, at, value);
    if (at < 0) return false;
    this.pos = at;
    return true;
  }

  /** An `ArrayValue` item holding a short ASCII string, as `shortStringKeyValue` does a `KeyValue`. */
  shortStringItem(value: string): boolean {
    const length = value.length;
    if (length + 2 > 0x7f) return false;
    this.reserve(length + 4);
    const buffer = this.buffer;
    let at = this.pos;
    buffer[at++] = (1 << 3) | LENGTH_DELIMITED;
    buffer[at++] = length + 2;
    buffer[at++] = (1 << 3) | LENGTH_DELIMITED;
    buffer[at++] = length;
    at = copyAscii(buffer, at, value);
    if (at < 0) return false;
    this.pos = at;
    return true;
  }

  string(value: string): void {
    const length = value.length;
    if (length < 0x80) {
      // Most strings here are short ASCII (keys, ids, variants): copied unit by unit, as a call
      // into the native UTF-8 encoder costs more than the copy. Anything else goes the long way.
      this.reserve(1 + length);
      const at = copyAscii(this.buffer, this.pos + 1, value);
      if (at >= 0) {
        this.buffer[this.pos] = length;
        this.pos = at;
        return;
      }
    }
    // At most three bytes per UTF-16 unit; the length is written first, so it is reserved
    // for the largest, and the bytes are moved back when they turn out shorter.
    const most = value.length * 3;
    const reserved = varintSize(most);
    this.reserve(reserved + most);
    const start = this.pos + reserved;
    const written = this.buffer.write(value, start, 'utf8');
    const size = varintSize(written);
    if (size < reserved) this.buffer.copyWithin(this.pos + size, start, start + written);
    let v = written;
    while (v > 0x7f) {
      this.buffer[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buffer[this.pos++] = v;
    this.pos += written;
  }

  private reserve(bytes: number): void {
    const needed = this.pos + bytes;
    if (needed <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < needed) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buffer.copy(grown, 0, 0, this.pos);
    this.buffer = grown;
  }
}
