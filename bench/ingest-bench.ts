/**
 * Ingest benchmark: OTLP requests of 100 spans × 10 attributes from 10 connections, stored
 * (`/v1/traces`) against parse-only (`/bench/parse-only/v1/traces`) in alternating rounds of
 * one run, JSON and protobuf; then every acknowledged span is counted in the SQLite file.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import autocannon, { type Result } from 'autocannon';
import Database from 'better-sqlite3';
import { encodeTraceProtobuf } from '../server/src/core/otlp-protobuf.js';
import { printTable, startServer, writeResult } from './bench-lib.js';

const SPANS_PER_REQUEST = 100;
const CONNECTIONS = 10;
const ROUND_SECONDS = Number(process.env.BENCH_ROUND_SECONDS ?? 8);
const ROUNDS = 3;
/**
 * Unmeasured load on both endpoints before the rounds: the first seconds of a new server
 * run cold code, and a parse-only ceiling measured cold would flatter the ratio.
 */
const WARMUP_SECONDS = 4;
/**
 * Placeholders replaced by fresh random ids in every request, as browsers make them (W3C
 * trace ids are random): a whole trace id and a whole span id. Ids that grow with a counter
 * would flatter any index on them (every insert an append).
 */
const TRACE_MARK = 'T'.repeat(32);
const SPAN_MARK = 'S'.repeat(16);
/**
 * Placeholders for the start and end times, replaced with the time of sending: a browser
 * reports spans that began moments ago (its SDK sends within a second), not spans that all
 * share one fixed instant. Fixed times would also put every span at one point of the
 * store's time-ordered retry index, which real traffic never does.
 */
const START_MARK = '1234567890123456789';
const END_MARK = '1234567890123456788';
/** Spans of one request began this far apart (ms), the last one just before it was sent. */
const SPAN_SPACING_MS = 5;
const SPAN_DURATION_MS = 2;
/** Span `i` began this many ms before its request was sent. */
const startOffsetMs = (i: number): number => (SPANS_PER_REQUEST - i) * SPAN_SPACING_MS;
/** The generator's clock ticks this often (ms), so the time strings are made once a tick, not once a body. */
const CLOCK_TICK_MS = 10;

/** The spans' start and end times as decimal nanosecond strings, for a request sent now. */
const timeStrings = (() => {
  let tick = -1;
  let strings: { starts: string[]; ends: string[] } = { starts: [], ends: [] };
  return () => {
    const now = Math.floor(Date.now() / CLOCK_TICK_MS) * CLOCK_TICK_MS;
    if (now !== tick) {
      tick = now;
      const starts = Array.from({ length: SPANS_PER_REQUEST }, (_, i) => now - startOffsetMs(i));
      strings = { starts: starts.map((ms) => `${ms}000000`), ends: starts.map((ms) => `${ms + SPAN_DURATION_MS}000000`) };
    }
    return strings;
  };
})();

function templateRequest(traceMark = TRACE_MARK, spanMark = SPAN_MARK): Record<string, unknown> {
  const spans = Array.from({ length: SPANS_PER_REQUEST }, (_, i) => ({
    traceId: traceMark,
    spanId: spanMark,
    name: i % 2 === 0 ? 'recommendation.click' : 'recommendation.view',
    kind: 1,
    startTimeUnixNano: START_MARK,
    endTimeUnixNano: END_MARK,
    attributes: [
      { key: 'experiment.rec_algorithm', value: { stringValue: ['control', 'collaborative', 'hybrid'][i % 3] } },
      { key: 'experiment.ranking_boost', value: { stringValue: i % 2 ? 'control' : 'recency_boost' } },
      { key: 'user.cohort', value: { stringValue: 'registered' } },
      { key: 'recommendation.position', value: { intValue: String(1 + (i % 8)) } },
      { key: 'content.id', value: { stringValue: `a${String(i).padStart(5, '0')}` } },
      { key: 'recommendation.request_id', value: { stringValue: `req-${i}-Xq3v9sL0aPb2` } },
      { key: 'http.url', value: { stringValue: 'https://news.example/articles/a00042?ref=rail' } },
      { key: 'browser.mobile', value: { boolValue: i % 5 === 0 } },
      { key: 'viewport.ratio', value: { doubleValue: 0.75 } },
      { key: 'page.path', value: { stringValue: '/articles/a00042' } },
    ],
  }));
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'content-site' } }, { key: 'session.id', value: { stringValue: 'bench' } }] },
        scopeSpans: [{ scope: { name: 'variant-lens-sdk' }, spans }],
      },
    ],
  };
}

/** A JSON body generator: the template with fresh random ids. */
export function jsonBodies(): (n: number) => string {
  // split with a capture group keeps the markers: text, marker, text, marker, …
  const parts = JSON.stringify(templateRequest()).split(new RegExp(`(${TRACE_MARK}|${SPAN_MARK}|${START_MARK}|${END_MARK})`));
  const idChars = SPANS_PER_REQUEST * (TRACE_MARK.length + SPAN_MARK.length);
  return () => {
    const random = randomBytes(idChars / 2).toString('hex');
    const { starts, ends } = timeStrings();
    let at = 0;
    let span = 0;
    let out = '';
    for (const part of parts) {
      if (part === TRACE_MARK || part === SPAN_MARK) {
        out += random.slice(at, at + part.length);
        at += part.length;
      } else if (part === START_MARK) out += starts[span];
      else if (part === END_MARK) out += ends[span++];
      else out += part;
    }
    return out;
  };
}

/** A protobuf body generator: the encoded template with fresh random id bytes patched in place. */
export function protobufBodies(): (n: number) => Buffer {
  const traceMarker = Buffer.alloc(16, 0xff);
  const spanMarker = Buffer.alloc(8, 0xee);
  const template = Buffer.from(encodeTraceProtobuf(templateRequest(traceMarker.toString('hex'), spanMarker.toString('hex'))));
  const offsets = (marker: Buffer): number[] => {
    const found: number[] = [];
    for (let at = template.indexOf(marker); at >= 0; at = template.indexOf(marker, at + marker.length)) found.push(at);
    return found;
  };
  const patches = [...offsets(traceMarker).map((at) => [at, 16] as const), ...offsets(spanMarker).map((at) => [at, 8] as const)];
  // fixed64 fields, little-endian, in span order.
  const timeAt = (mark: string) => {
    const bytes = Buffer.alloc(8);
    bytes.writeBigUInt64LE(BigInt(mark));
    return offsets(bytes);
  };
  const starts = timeAt(START_MARK);
  const ends = timeAt(END_MARK);
  const startOffsets = starts.map((_, i) => BigInt(startOffsetMs(i)) * 1_000_000n);
  const duration = BigInt(SPAN_DURATION_MS) * 1_000_000n;
  return () => {
    const body = Buffer.from(template);
    const random = randomBytes(SPANS_PER_REQUEST * 24);
    let from = 0;
    for (const [at, length] of patches) {
      random.copy(body, at, from, from + length);
      from += length;
    }
    const now = BigInt(Date.now()) * 1_000_000n;
    starts.forEach((at, i) => {
      const start = now - startOffsets[i]!;
      body.writeBigUInt64LE(start, at);
      body.writeBigUInt64LE(start + duration, ends[i]!);
    });
    return body;
  };
}

interface Round {
  encoding: string;
  target: string;
  round: number;
  requests: number;
  spansPerSecond: number;
  p99Ms: number;
  errors: number;
}

async function load(url: string, path: string, contentType: string, body: (n: number) => string | Buffer, start: number, seconds = ROUND_SECONDS): Promise<{ ok: number; result: Result }> {
  let n = start;
  let ok = 0;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path,
        headers: { 'content-type': contentType },
        setupRequest: (request) => ({ ...request, body: body(n++) }),
        onResponse: (status) => {
          if (status === 200) ok += 1;
        },
      },
    ],
  });
  return { ok, result };
}

export async function runIngestBench(): Promise<Record<string, unknown>> {
  const server = await startServer({ BENCH_PARSE_ONLY_ROUTE: 'true', INGEST_MAX_IN_FLIGHT_BYTES: '1073741824', OTEL_SDK_DISABLED: 'true' }, { keepDataDir: true });
  const rounds: Round[] = [];
  let counter = 1;
  let storedAcknowledged = 0;
  const encodings = [
    { encoding: 'json', type: 'application/json', body: jsonBodies() },
    { encoding: 'protobuf', type: 'application/x-protobuf', body: protobufBodies() },
  ] as const;
  try {
    for (const { encoding, type, body } of encodings) {
      for (const path of ['/bench/parse-only/v1/traces', '/v1/traces']) {
        const { ok, result } = await load(server.url, path, type, body, counter, WARMUP_SECONDS);
        counter += result.requests.sent + CONNECTIONS;
        if (path === '/v1/traces') storedAcknowledged += ok * SPANS_PER_REQUEST;
      }
      for (let round = 1; round <= ROUNDS; round += 1) {
        for (const target of ['parse-only', 'stored'] as const) {
          const path = target === 'stored' ? '/v1/traces' : '/bench/parse-only/v1/traces';
          const { ok, result } = await load(server.url, path, type, body, counter);
          counter += result.requests.sent + CONNECTIONS;
          if (target === 'stored') storedAcknowledged += ok * SPANS_PER_REQUEST;
          rounds.push({
            encoding,
            target,
            round,
            requests: ok,
            spansPerSecond: Math.round((ok * SPANS_PER_REQUEST) / ROUND_SECONDS),
            p99Ms: result.latency.p99,
            errors: result.errors + result.non2xx,
          });
        }
      }
    }
  } finally {
    await server.stop();
  }
  const db = new Database(join(server.dataDir, 'telemetry.db'), { readonly: true });
  const storedSpans = (db.prepare('SELECT count(*) AS n FROM spans').get() as { n: number }).n;
  db.close();
  rmSync(server.dataDir, { recursive: true, force: true });
  const summary = encodings.map(({ encoding }) => {
    const mean = (target: string) => {
      const of = rounds.filter((r) => r.encoding === encoding && r.target === target);
      return of.reduce((s, r) => s + r.spansPerSecond, 0) / of.length;
    };
    return { encoding, storedSpansPerSecond: Math.round(mean('stored')), parseOnlySpansPerSecond: Math.round(mean('parse-only')), ratio: mean('stored') / mean('parse-only') };
  });
  printTable(`Ingest: ${SPANS_PER_REQUEST} spans x 10 attributes per request, ${CONNECTIONS} connections, ${ROUND_SECONDS}s rounds`, rounds as unknown as Record<string, number>[]);
  printTable('Ingest summary (targets: >= 100,000 spans/s stored, >= 0.5x parse-only)', summary);
  // Requests still in flight when a round ends are stored but never counted as acknowledged.
  printTable('Acknowledged spans counted in SQLite afterwards', [
    { acknowledged: storedAcknowledged, stored: storedSpans, missing: Math.max(0, storedAcknowledged - storedSpans), storedButUnanswered: Math.max(0, storedSpans - storedAcknowledged) },
  ]);
  const result = { rounds, summary, acknowledged: storedAcknowledged, stored: storedSpans };
  console.log(`written ${writeResult('ingest', result)}`);
  return result;
}
