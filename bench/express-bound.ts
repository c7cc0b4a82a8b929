/**
 * The `bound` setup of the Express benchmark: the least an implementation of the README's
 * quick start could do per request for the same telemetry, hand-written for this one app and
 * this one route. Per request it assigns the visitor (cached, as variant-lens does), runs the
 * handler in the async-hooks context (a flat per-request context object), and writes the two
 * spans variant-lens exports — the SERVER span and `recommendation.request`, with the same
 * names, kinds, parent, ids, times and attributes, the content ids and one
 * `feature_flag.evaluation` event per experiment — straight as OTLP protobuf bytes into one
 * buffer, the bytes of each assignment's attributes and events made once; the impressions and
 * latency are added to per-assignment counters. Batches of 1 MiB go to the collector.
 *
 * What it leaves out, each of which variant-lens must do: reading inbound trace context and
 * baggage (the benchmark sends none; here a request that carries any is refused), the
 * baggage guard, OpenTelemetry Span objects (the app's own spans cannot be children of these),
 * span limits and attribute validation, the metrics' export, and any configuration. It is a
 * measuring stick for the benchmark, not a product: what it costs in the closed loop is a floor
 * under any implementation of the same telemetry.
 */
import { context, createContextKey, ROOT_CONTEXT, trace, TraceFlags, type Context, type ContextManager } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { randomFillSync } from 'node:crypto';
import { request } from 'node:http';
import type { Express, Request, Response } from 'express';
import { loadExperiments } from '../server/src/node/index.js';
import { newRequestId } from '../server/src/node/request-id.js';

const SPAN_KEY = createContextKey('OpenTelemetry Context Key SPAN');
const BATCH_BYTES = 1024 * 1024;
const LATENCY_BUCKETS_MS = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];
const ID_POOL_BYTES = 4096;
const LENGTH_DELIMITED = 2;
/** Room before a batch's spans for the request's framing (two tags and two varint lengths) around the resource and scope. */
const FRAMING_BYTES = 12;
/** What every span here ends with: no attributes, events or links dropped (10, 12, 14), status unset (15), flags sampled with is-remote known (16). */
const SPAN_TAIL = Buffer.from([0x50, 0, 0x60, 0, 0x70, 0, 0x7a, 2, 0x18, 0, 0x85, 0x01, 0x01, 0x01, 0, 0]);

/** An assignment's telemetry, made once. */
interface Shape {
  readonly experiments: Readonly<Record<string, string>>;
  readonly baggage: Readonly<Record<string, string>>;
  /** The encoded experiment attributes (span field 9) and feature-flag events' attributes. */
  readonly attributes: Buffer;
  readonly events: readonly Buffer[];
  impressions: number;
  latencySum: number;
  readonly latencyBuckets: number[];
}

/** Protobuf writes into one buffer of twice a batch; lengths as two-byte varints (valid, if not minimal: every message here is under 16 KiB). */
class Writer {
  buffer: Buffer;
  at: number;

  /** `reserved`: room kept before the bytes for what `take` puts there. */
  constructor(
    private readonly reserved: number,
    size: number,
  ) {
    this.buffer = Buffer.allocUnsafe(size);
    this.at = reserved;
  }

  get length(): number {
    return this.at - this.reserved;
  }

  tag(field: number, wireType: number): void {
    this.buffer[this.at++] = (field << 3) | wireType;
  }

  varint(value: number): void {
    let v = value;
    while (v > 0x7f) {
      this.buffer[this.at++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buffer[this.at++] = v;
  }

  begin(field: number): number {
    this.tag(field, LENGTH_DELIMITED);
    this.at += 2;
    return this.at;
  }

  end(start: number): void {
    const length = this.at - start;
    this.buffer[start - 2] = (length & 0x7f) | 0x80;
    this.buffer[start - 1] = length >> 7;
  }

  /** An ASCII string field. */
  string(field: number, text: string): void {
    this.tag(field, LENGTH_DELIMITED);
    this.varint(text.length);
    for (let i = 0; i < text.length; i++) this.buffer[this.at++] = text.charCodeAt(i);
  }

  /** A trace or span id given in lowercase hex, as its bytes. */
  id(field: number, hex: string): void {
    this.tag(field, LENGTH_DELIMITED);
    this.buffer[this.at++] = hex.length >> 1;
    for (let i = 0; i < hex.length; i += 2) this.buffer[this.at++] = (digit(hex.charCodeAt(i)) << 4) | digit(hex.charCodeAt(i + 1));
  }

  /** Epoch milliseconds as fixed64 nanoseconds. */
  time(field: number, ms: number): void {
    this.tag(field, 1);
    const nanos = Math.round(ms * 1e6);
    const high = Math.floor(nanos / 0x100000000);
    this.buffer.writeUInt32LE(nanos - high * 0x100000000, this.at);
    this.buffer.writeUInt32LE(high, this.at + 4);
    this.at += 8;
  }

  /** A KeyValue (field 9 of a span, 3 of an event) with a string value. */
  stringAttribute(field: number, key: string, value: string): void {
    const keyValue = this.begin(field);
    this.string(1, key);
    const any = this.begin(2);
    this.string(1, value);
    this.end(any);
    this.end(keyValue);
  }

  intAttribute(field: number, key: string, value: number): void {
    const keyValue = this.begin(field);
    this.string(1, key);
    const any = this.begin(2);
    this.tag(3, 0);
    this.varint(value);
    this.end(any);
    this.end(keyValue);
  }

  raw(bytes: Buffer): void {
    bytes.copy(this.buffer, this.at);
    this.at += bytes.length;
  }

  /** The bytes written, `prefix` put before them in the reserved room, handed over without a copy; the writer starts a new buffer. */
  take(prefix: Buffer): Buffer {
    const start = this.reserved - prefix.length;
    prefix.copy(this.buffer, start);
    const bytes = this.buffer.subarray(start, this.at);
    this.buffer = Buffer.allocUnsafe(this.buffer.length);
    this.at = this.reserved;
    return bytes;
  }
}

function digit(code: number): number {
  return code <= 57 ? code - 48 : code - 87;
}

function encoded(write: (writer: Writer) => void): Buffer {
  const writer = new Writer(0, 4096);
  write(writer);
  return Buffer.from(writer.buffer.subarray(0, writer.at));
}

/** The request's state, as the OpenTelemetry context of everything its handler does. */
class RequestContext implements Context {
  constructor(
    readonly shape: Shape,
    readonly visitorId: string,
    readonly traceId: string,
    readonly spanId: string,
    readonly startedAt: number,
    readonly startedAtMs: number,
  ) {}

  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? trace.wrapSpanContext({ traceId: this.traceId, spanId: this.spanId, traceFlags: TraceFlags.SAMPLED }) : undefined;
  }

  setValue(key: symbol, value: unknown): Context {
    return ROOT_CONTEXT.setValue(SPAN_KEY, this.getValue(SPAN_KEY)).setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return ROOT_CONTEXT.setValue(SPAN_KEY, this.getValue(SPAN_KEY)).deleteValue(key);
  }
}

/** Mounts the bound's middleware and route on `app`; telemetry goes to `collectorUrl`. */
export function mountBound(app: Express, collectorUrl: string, experimentsFile: string, rank: (variant: string | undefined) => { contentId: string }[]): () => Promise<void> {
  const contextManager: ContextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  const experiments = loadExperiments(experimentsFile);
  const url = new URL(`${collectorUrl}/v1/traces`);
  // The ExportTraceServiceRequest's one ResourceSpans: resource { service.name }, then one ScopeSpans: scope { name }, spans.
  const resource = encoded((w) => {
    const message = w.begin(1);
    w.stringAttribute(1, 'service.name', 'bench-bound');
    w.end(message);
  });
  const scope = encoded((w) => {
    const message = w.begin(1);
    w.string(1, 'variant-lens');
    w.end(message);
  });
  const spans = new Writer(FRAMING_BYTES + resource.length + scope.length, 2 * BATCH_BYTES);
  let sending = Promise.resolve();
  const send = (): void => {
    if (spans.length === 0) return;
    const scopeSpans = scope.length + spans.length;
    const resourceSpans = resource.length + 1 + varintBytes(scopeSpans).length + scopeSpans;
    const body = spans.take(Buffer.concat([Buffer.from([0x0a]), varintBytes(resourceSpans), resource, Buffer.from([0x12]), varintBytes(scopeSpans), scope]));
    sending = new Promise((resolve) => {
      const headers = { 'content-type': 'application/x-protobuf', 'content-length': body.length, authorization: 'Bearer bench-service-token-0123456789' };
      const post = request(url, { method: 'POST', headers }, (res) => res.resume().on('end', resolve));
      post.on('error', () => resolve());
      post.end(body);
    });
  };
  const timer = setInterval(send, 500).unref();
  const shapes = new Map<string, Shape>();
  const visitors = new Map<string, Shape>();
  const shapeOf = (visitorId: string): Shape => {
    const decided = experiments.visitorContext(visitorId, []);
    const key = JSON.stringify(decided.baggage);
    let shape = shapes.get(key);
    if (shape === undefined) {
      const assigned = decided.assignment?.experiments ?? {};
      const reasons = decided.assignment?.reasons ?? {};
      const attributes = encoded((w) => {
        for (const [name, value] of Object.entries(decided.baggage)) w.stringAttribute(9, name, value);
      });
      const events = Object.entries(assigned).map(([name, variant]) =>
        encoded((w) => {
          w.stringAttribute(3, 'feature_flag.key', name);
          w.stringAttribute(3, 'feature_flag.result.variant', variant);
          w.stringAttribute(3, 'feature_flag.provider.name', 'variant-lens');
          w.stringAttribute(3, 'feature_flag.result.reason', reasons[name] ?? 'unknown');
        }),
      );
      shape = { experiments: { ...assigned }, baggage: { ...decided.baggage }, attributes, events, impressions: 0, latencySum: 0, latencyBuckets: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0) };
      shapes.set(key, shape);
    }
    return shape;
  };
  const endServerSpan = (state: RequestContext, req: Request, res: Response): void => {
    const span = spans.begin(2);
    spans.id(1, state.traceId);
    spans.id(2, state.spanId);
    spans.string(5, 'GET /api/recommendations');
    spans.tag(6, 0);
    spans.varint(2);
    spans.time(7, state.startedAtMs);
    spans.time(8, state.startedAtMs + (performance.now() - state.startedAt));
    spans.raw(state.shape.attributes);
    spans.stringAttribute(9, 'http.request.method', req.method);
    spans.stringAttribute(9, 'url.path', '/api/recommendations');
    spans.stringAttribute(9, 'http.route', '/api/recommendations');
    spans.intAttribute(9, 'http.response.status_code', res.statusCode);
    spans.raw(SPAN_TAIL);
    spans.end(span);
    if (spans.length >= BATCH_BYTES) send();
  };
  app.use('/api', (req, res, next) => {
    if (req.headers.traceparent !== undefined || req.headers.baggage !== undefined) {
      res.status(400).end();
      return;
    }
    const visitorId = String(req.query.userId ?? '');
    let shape = visitors.get(visitorId);
    if (shape === undefined) {
      shape = shapeOf(visitorId);
      visitors.set(visitorId, shape);
    }
    const state = new RequestContext(shape, visitorId, randomHex(16), randomHex(8), performance.now(), Date.now());
    res.on('finish', () => endServerSpan(state, req, res));
    context.with(state, next);
  });
  app.get('/api/recommendations', (_req, res) => {
    const state = context.active() as RequestContext;
    const list = rank(state.shape.experiments['rec_algorithm_v3']);
    const requestId = newRequestId();
    const spanId = randomHex(8);
    const latency = performance.now() - state.startedAt;
    const span = spans.begin(2);
    spans.id(1, state.traceId);
    spans.id(2, spanId);
    spans.id(4, state.spanId);
    spans.string(5, 'recommendation.request');
    spans.tag(6, 0);
    spans.varint(1);
    spans.time(7, state.startedAtMs);
    spans.time(8, state.startedAtMs + latency);
    spans.raw(state.shape.attributes);
    spans.stringAttribute(9, 'recommendation.request_id', requestId);
    spans.intAttribute(9, 'recommendation.count', list.length);
    spans.stringAttribute(9, 'user.id', state.visitorId);
    const ids = spans.begin(9);
    spans.string(1, 'recommendation.content_ids');
    const any = spans.begin(2);
    const array = spans.begin(5);
    for (const item of list) {
      const value = spans.begin(1);
      spans.string(1, item.contentId);
      spans.end(value);
    }
    spans.end(array);
    spans.end(any);
    spans.end(ids);
    for (const attributes of state.shape.events) {
      const event = spans.begin(11);
      spans.time(1, state.startedAtMs + latency);
      spans.string(2, 'feature_flag.evaluation');
      spans.raw(attributes);
      spans.end(event);
    }
    spans.raw(SPAN_TAIL);
    spans.end(span);
    if (spans.length >= BATCH_BYTES) send();
    state.shape.impressions += list.length;
    state.shape.latencySum += latency;
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS_MS.length && latency > LATENCY_BUCKETS_MS[bucket]!) bucket += 1;
    state.shape.latencyBuckets[bucket]! += 1;
    res.json({ requestId, experiments: state.shape.experiments, baggage: state.shape.baggage, trace: { traceId: state.traceId, spanId }, recommendations: list });
  });
  return async () => {
    clearInterval(timer);
    send();
    await sending;
  };
}

function varintBytes(value: number): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

const idPool = Buffer.alloc(ID_POOL_BYTES);
let idText = '';
let idNext = ID_POOL_BYTES;

/** Random ids cut from one hex string per 4 KiB drawn from the system's random source. */
function randomHex(bytes: number): string {
  if (idNext + bytes > ID_POOL_BYTES) {
    randomFillSync(idPool);
    idText = idPool.toString('hex');
    idNext = 0;
  }
  const id = idText.slice(idNext * 2, (idNext + bytes) * 2);
  idNext += bytes;
  return id;
}
