import {
  context as contextApi,
  createContextKey,
  diag,
  INVALID_SPAN_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type AttributeValue,
  type Context,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type TimeInput,
  type Tracer,
} from '@opentelemetry/api';
import { hrTimeDuration, hrTimeToMilliseconds, isAttributeValue, isTimeInput, isTimeInputHrTime, isTracingSuppressed, millisToHrTime, sanitizeAttributes, type InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import { randomFillSync } from 'node:crypto';
import { SPAN_ATTRIBUTES_KEY } from './experiment-baggage-span-processor.js';

/**
 * The limits `BasicTracerProvider` applies by default (startTelemetry sets none): attributes
 * per span, events, links, attributes per event and per link. Values are not truncated.
 */
const LIMIT = 128;
/** Bytes of a trace id and of a span id. */
const TRACE_ID_BYTES = 16;
const SPAN_ID_BYTES = 8;
/** Ids drawn from one call to the system's random source (one call per id would cost more than the span). */
const ID_POOL_BYTES = 4096;
const ZERO_TRACE_ID = '0'.repeat(TRACE_ID_BYTES * 2);
const ZERO_SPAN_ID = '0'.repeat(SPAN_ID_BYTES * 2);
const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });
const NO_ATTRIBUTES: Attributes = Object.freeze({});
const NOT_ENDED: HrTime = Object.freeze([0, 0]) as unknown as HrTime;
/** Shared by spans without events or links until they get one (an array each per span was a tenth of its garbage). */
const NO_EVENTS: TimedEvent[] = Object.freeze([]) as unknown as TimedEvent[];
const NO_LINKS: Link[] = Object.freeze([]) as unknown as Link[];

/**
 * A time of a lean span: milliseconds since the epoch, or the `HrTime` it was given as. Kept as
 * a number, it is written by the encoder as `millisToHrTime` would make it, without the array.
 */
export type LeanTime = number | HrTime;

function hrTimeOf(time: LeanTime): HrTime {
  return typeof time === 'number' ? millisToHrTime(time) : time;
}

/** An event of a lean span; `time` is made when something reads it. */
export class LeanEvent implements TimedEvent {
  constructor(
    readonly name: string,
    readonly attributes: Attributes,
    readonly at: LeanTime,
    readonly droppedAttributesCount: number,
  ) {}

  get time(): HrTime {
    return hrTimeOf(this.at);
  }
}

const idPool = Buffer.alloc(ID_POOL_BYTES);
let idNext = ID_POOL_BYTES;

function randomId(bytes: number, zero: string): string {
  for (;;) {
    if (idNext + bytes > ID_POOL_BYTES) {
      randomFillSync(idPool);
      idNext = 0;
    }
    const id = idPool.toString('hex', idNext, idNext + bytes);
    idNext += bytes;
    // An all-zero id is invalid in W3C trace context; 2^-64 likely, but never sent.
    if (id !== zero) return id;
  }
}

/** The API's key of a context's span (`trace.setSpan`, `trace.getSpan`): a registered symbol, the same for every copy of the API. */
export const SPAN_KEY = createContextKey('OpenTelemetry Context Key SPAN');

/**
 * `parent` with one more entry: what `parent.setValue(key, value)` gives (`trace.setSpan` is
 * that with the API's span key), without copying every entry of `parent` into a new context
 * (a Map per request). Reads of any other key go to `parent`; a write makes the ordinary
 * context it stands for, then writes to that.
 */
export class ContextLayer implements Context {
  constructor(
    private readonly parent: Context,
    private readonly key: symbol,
    private readonly value: unknown,
  ) {}

  getValue(key: symbol): unknown {
    return key === this.key ? this.value : this.parent.getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return this.parent.setValue(this.key, this.value).setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return this.parent.setValue(this.key, this.value).deleteValue(key);
  }
}

/** Where a lean span goes when it ends: startTelemetry's encoding processor. */
export type LeanSpanSink = (span: LeanSpan) => void;

/**
 * The tracer of `experimentMiddleware` and `recordServed` under `startTelemetry`, which owns
 * the tracer provider: it makes the spans the SDK's tracer would make there (same sampling
 * — parent-based, always on —, limits, ids, the experiment attributes the
 * `ExperimentBaggageSpanProcessor` adds) as `LeanSpan`s that go straight to the encoding
 * processor when they end. The SDK's span path cost more than a third of a request's
 * telemetry (bench/RESULTS.md): a sampler result, a processor chain, attribute validation
 * and copies of values we built ourselves. The global tracer stays the SDK's, so the app's
 * own spans are SDK spans and parent under these as under any span.
 */
export class LeanTracer implements Tracer {
  constructor(
    readonly resource: Resource,
    readonly instrumentationScope: InstrumentationScope,
    private readonly sink: LeanSpanSink,
  ) {}

  startSpan(name: string, options: SpanOptions = {}, context: Context = contextApi.active()): Span {
    const parentContext = options.root ? trace.deleteSpan(context) : context;
    if (isTracingSuppressed(parentContext)) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const parent = trace.getSpanContext(parentContext);
    const validParent = parent !== undefined && trace.isSpanContextValid(parent) ? parent : undefined;
    const spanId = randomId(SPAN_ID_BYTES, ZERO_SPAN_ID);
    if (validParent !== undefined && (validParent.traceFlags & TraceFlags.SAMPLED) === 0) {
      // The parent-based sampler drops what its parent dropped, propagating the context.
      return trace.wrapSpanContext({ traceId: validParent.traceId, spanId, traceFlags: TraceFlags.NONE, traceState: validParent.traceState });
    }
    const spanContext: SpanContext = {
      traceId: validParent?.traceId ?? randomId(TRACE_ID_BYTES, ZERO_TRACE_ID),
      spanId,
      traceFlags: TraceFlags.SAMPLED,
      traceState: validParent?.traceState,
    };
    const span = new LeanSpan(this, this.sink, name, options.kind ?? SpanKind.INTERNAL, spanContext, validParent, options.startTime);
    if (options.links !== undefined) span.addLinks(options.links);
    // As the SDK: the options' attributes first, then the processor's experiment attributes.
    if (options.attributes !== undefined) span.setAttributes(options.attributes);
    const shared = parentContext.getValue(SPAN_ATTRIBUTES_KEY) as Attributes | undefined;
    if (shared !== undefined) span.setSharedAttributes(shared);
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, context: Context, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...rest: unknown[]): ReturnType<F> {
    const fn = rest.pop() as F;
    const [options, parentContext = contextApi.active()] = rest as [SpanOptions | undefined, Context | undefined];
    const span = this.startSpan(name, options, parentContext);
    return contextApi.with(new ContextLayer(parentContext, SPAN_KEY, span), fn as (span: Span) => ReturnType<F>, undefined, span);
  }
}

/**
 * A span of `LeanTracer`: the API of an SDK span (the same checks, limits and diagnostics)
 * and the fields of a `ReadableSpan`, so the encoder and any exporter read it as one. The
 * experiment attributes it gets at start are kept as the shared, frozen object the middleware
 * made for the assignment, not copied: the encoder writes its bytes once per assignment.
 */
export class LeanSpan implements Span, ReadableSpan {
  name: string;
  readonly kind: SpanKind;
  readonly parentSpanContext: SpanContext | undefined;
  /** When it started and ended (`endAt` is -1 until then). */
  readonly startAt: LeanTime;
  endAt: LeanTime = -1;
  status: SpanStatus = UNSET;
  links: Link[] = NO_LINKS;
  events: LeanEvent[] = NO_EVENTS as LeanEvent[];
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  droppedAttributesCount = 0;
  droppedEventsCount = 0;
  droppedLinksCount = 0;
  ended = false;
  /** The request's experiment attributes as the middleware froze them (written first), if any. */
  sharedAttributes: Attributes = NO_ATTRIBUTES;
  /** Every other attribute, in the order set; never a key of `sharedAttributes`. */
  ownAttributes: Attributes = {};
  private attributeCount = 0;
  /** Date.now() − performance.now() at the start: the SDK's anchor of a span's clock to the wall clock. */
  private readonly offsetMs: number;
  private readonly startProvided: boolean;

  constructor(
    tracer: LeanTracer,
    private readonly sink: LeanSpanSink,
    name: string,
    kind: SpanKind,
    private readonly context: SpanContext,
    parent: SpanContext | undefined,
    startTime: TimeInput | undefined,
  ) {
    this.name = name;
    this.kind = kind;
    this.parentSpanContext = parent;
    this.resource = tracer.resource;
    this.instrumentationScope = tracer.instrumentationScope;
    const now = Date.now();
    this.offsetMs = now - performance.now();
    this.startProvided = startTime !== undefined && startTime !== null;
    this.startAt = this.startProvided ? this.time(startTime!) : now;
  }

  spanContext(): SpanContext {
    return this.context;
  }

  /** Every attribute, the shared ones first, as one object (what a `ReadableSpan` has). */
  get attributes(): Attributes {
    return this.sharedAttributes === NO_ATTRIBUTES ? this.ownAttributes : { ...this.sharedAttributes, ...this.ownAttributes };
  }

  get startTime(): HrTime {
    return hrTimeOf(this.startAt);
  }

  get endTime(): HrTime {
    return this.ended ? hrTimeOf(this.endAt) : NOT_ENDED;
  }

  get duration(): HrTime {
    return this.ended ? hrTimeDuration(this.startTime, this.endTime) : [-1, -1];
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (value === undefined || value === null || this.isEnded()) return this;
    if (key.length === 0) {
      diag.warn(`Invalid attribute key: ${key}`);
      return this;
    }
    if (!isAttributeValue(value)) {
      diag.warn(`Invalid attribute value set for key: ${key}`);
      return this;
    }
    if (Object.hasOwn(this.sharedAttributes, key)) this.unshare();
    const isNew = !Object.hasOwn(this.ownAttributes, key);
    if (isNew && this.attributeCount >= LIMIT) {
      this.droppedAttributesCount += 1;
      return this;
    }
    // Arrays are copied, as the SDK does: the caller may change its own afterwards.
    this.ownAttributes[key] = Array.isArray(value) ? (value.slice() as AttributeValue) : value;
    if (isNew) this.attributeCount += 1;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) if (Object.hasOwn(attributes, key)) this.setAttribute(key, attributes[key]);
    return this;
  }

  /**
   * The experiment attributes at start. A frozen object of valid attributes (the middleware's)
   * is kept by reference; anything else is set one by one.
   */
  setSharedAttributes(attributes: Attributes): void {
    const count = this.sharedAttributes === NO_ATTRIBUTES && this.attributeCount === 0 ? reusableCount(attributes) : -1;
    if (count < 0) {
      this.setAttributes(attributes);
      return;
    }
    this.sharedAttributes = attributes;
    this.attributeCount = count;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.isEnded()) return this;
    if (this.events === NO_EVENTS) this.events = [];
    if (this.events.length >= LIMIT) {
      if (this.droppedEventsCount === 0) diag.debug('Dropping extra events.');
      this.events.shift();
      this.droppedEventsCount += 1;
    }
    let attributes: Attributes | undefined;
    if (isTimeInput(attributesOrTime)) {
      if (!isTimeInput(time)) time = attributesOrTime;
    } else {
      attributes = attributesOrTime;
    }
    const { kept, dropped } = limitedAttributes(attributes);
    this.events.push(new LeanEvent(name, kept, time === undefined ? this.now() : this.time(time), dropped));
    return this;
  }

  addLink(link: Link): this {
    if (this.isEnded()) return this;
    if (this.links === NO_LINKS) this.links = [];
    if (this.links.length >= LIMIT) {
      if (this.droppedLinksCount === 0) diag.debug('Dropping extra links.');
      this.links.shift();
      this.droppedLinksCount += 1;
    }
    const { kept, dropped } = limitedAttributes(link.attributes === undefined ? undefined : sanitizeAttributes(link.attributes));
    const processed: { context: SpanContext; attributes?: Attributes; droppedAttributesCount?: number } = { context: link.context };
    if (Object.keys(kept).length > 0) processed.attributes = kept;
    if (dropped > 0) processed.droppedAttributesCount = dropped;
    this.links.push(processed);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.isEnded() || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) return this;
    const next: SpanStatus = { code: status.code };
    if (status.code === SpanStatusCode.ERROR) {
      if (typeof status.message === 'string') next.message = status.message;
      else if (status.message !== undefined && status.message !== null) diag.warn(`Dropping invalid status.message of type '${typeof status.message}', expected 'string'`);
    }
    this.status = next;
    return this;
  }

  updateName(name: string): this {
    if (!this.isEnded()) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.ended) {
      diag.error(`${this.name} ${this.context.traceId}-${this.context.spanId} - You can only call end() on a span once.`);
      return;
    }
    this.endAt = endTime === undefined ? this.now() : this.time(endTime);
    if (millisOf(this.endAt) < millisOf(this.startAt)) {
      diag.warn('Inconsistent start and end time, startTime > endTime. Setting span duration to 0ms.', hrTimeOf(this.startAt), hrTimeOf(this.endAt));
      this.endAt = typeof this.startAt === 'number' ? this.startAt : [this.startAt[0], this.startAt[1]];
    }
    if (this.droppedEventsCount > 0) diag.warn(`Dropped ${this.droppedEventsCount} events because eventCountLimit reached`);
    if (this.droppedLinksCount > 0) diag.warn(`Dropped ${this.droppedLinksCount} links because linkCountLimit reached`);
    this.ended = true;
    this.sink(this);
  }

  isRecording(): boolean {
    return !this.ended;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') {
      attributes['exception.message'] = exception;
    } else if (exception) {
      if (exception.code) attributes['exception.type'] = exception.code.toString();
      else if (exception.name) attributes['exception.type'] = exception.name;
      if (exception.message) attributes['exception.message'] = exception.message;
      if (exception.stack) attributes['exception.stacktrace'] = exception.stack;
    }
    if (attributes['exception.type'] || attributes['exception.message']) this.addEvent('exception', attributes, time);
    else diag.warn(`Failed to record an exception ${String(exception)}`);
  }

  /** Moves the shared attributes into the span's own, in their order, before one of them is overwritten. */
  private unshare(): void {
    this.ownAttributes = { ...this.sharedAttributes, ...this.ownAttributes };
    this.sharedAttributes = NO_ATTRIBUTES;
  }

  private isEnded(): boolean {
    if (this.ended) {
      const ids = `{traceId: ${this.context.traceId}, spanId: ${this.context.spanId}}`;
      diag.warn(`Cannot execute the operation on ended Span ${ids}`, new Error(`Operation attempted on ended Span ${ids}`));
    }
    return this.ended;
  }

  /** Now, as the SDK measures it after a start it chose itself: the start plus the monotonic clock's time since. */
  private now(): number {
    return this.startProvided ? Date.now() : performance.now() + this.offsetMs;
  }

  /** A given time as the SDK reads it: a number below `performance.now()` is a performance timestamp. */
  private time(input: TimeInput): LeanTime {
    if (typeof input === 'number') return input <= performance.now() ? input + this.offsetMs : input;
    if (input instanceof Date) return input.getTime();
    if (isTimeInputHrTime(input)) return input;
    return this.now();
  }
}

function millisOf(time: LeanTime): number {
  return typeof time === 'number' ? time : hrTimeToMilliseconds(time);
}

/**
 * Event and link attributes within the per-event limit. A frozen object of valid values (the
 * middleware's feature-flag events) is kept as it is, which lets the encoder reuse its bytes;
 * anything else is sanitized and copied, as the SDK does.
 */
function limitedAttributes(attributes: Attributes | undefined): { kept: Attributes; dropped: number } {
  if (attributes === undefined || attributes === null) return { kept: {}, dropped: 0 };
  if (reusableCount(attributes) >= 0) return { kept: attributes, dropped: 0 };
  const sanitized = sanitizeAttributes(attributes);
  const kept: Attributes = {};
  let count = 0;
  let dropped = 0;
  for (const key in sanitized) {
    if (!Object.hasOwn(sanitized, key)) continue;
    if (count >= LIMIT) {
      dropped += 1;
      continue;
    }
    kept[key] = sanitized[key];
    count += 1;
  }
  return { kept, dropped };
}

/** Frozen attribute objects found reusable, with their number of attributes: checked once each. */
const reusable = new WeakMap<Attributes, number>();

/**
 * The number of attributes of a frozen object that may be kept by reference — up to the
 * limit of attributes, each with a non-empty key and a defined primitive value (nothing in
 * it can change) — or -1.
 */
function reusableCount(attributes: Attributes): number {
  const known = reusable.get(attributes);
  if (known !== undefined) return known;
  if (!Object.isFrozen(attributes)) return -1;
  let count = 0;
  for (const key in attributes) {
    if (!Object.hasOwn(attributes, key)) continue;
    const value = attributes[key];
    if (key.length === 0 || value === undefined || value === null || typeof value === 'object' || !isAttributeValue(value) || ++count > LIMIT) return -1;
  }
  reusable.set(attributes, count);
  return count;
}

/** The lean tracers of `startTelemetry`, by the SDK tracer the middleware would otherwise use. */
const leanTracers = new WeakMap<Tracer, LeanTracer>();

/** Makes the middleware and `recordServed` use `lean` wherever they were given `tracer`. */
export function useLeanTracer(tracer: Tracer, lean: LeanTracer): void {
  leanTracers.set(tracer, lean);
}

/** The lean tracer standing for `tracer`, if `startTelemetry` registered one. */
export function leanTracerOf(tracer: Tracer): LeanTracer | undefined {
  return leanTracers.get(tracer);
}
