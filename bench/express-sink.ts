/**
 * The telemetry sink of the Express benchmark, in a process of its own so that receiving
 * the apps' OTLP costs neither the app under load nor the load generator. Each app posts
 * under its own prefix (`/<setup>/v1/traces`); the sink answers 200 at once and counts
 * exports, bytes and spans per setup (spans by walking the protobuf fields, not decoding
 * them). `GET /stats` returns the counts. Prints `listening on <port>` when ready.
 */
import { createServer } from 'node:http';

interface Counts {
  exports: number;
  bytes: number;
  spans: number;
}

const counts: Record<string, Counts> = {};

/** Reads a protobuf varint at `offset`: [value, next offset]. */
function varint(buffer: Buffer, offset: number): [number, number] {
  let value = 0;
  let shift = 0;
  let at = offset;
  for (;;) {
    const byte = buffer[at++]!;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, at];
    shift += 7;
  }
}

/** Calls `onField` with each length-delimited field of the message in [start, end). */
function fields(buffer: Buffer, start: number, end: number, onField: (field: number, from: number, to: number) => void): void {
  let at = start;
  while (at < end) {
    const [tag, afterTag] = varint(buffer, at);
    const wireType = tag & 7;
    if (wireType === 2) {
      const [length, from] = varint(buffer, afterTag);
      onField(Math.floor(tag / 8), from, from + length);
      at = from + length;
    } else if (wireType === 0) at = varint(buffer, afterTag)[1];
    else if (wireType === 1) at = afterTag + 8;
    else if (wireType === 5) at = afterTag + 4;
    else return;
  }
}

/** Spans in an ExportTraceServiceRequest: resource_spans (1) → scope_spans (2) → spans (2). */
function protobufSpans(body: Buffer): number {
  let spans = 0;
  fields(body, 0, body.length, (field, from, to) => {
    if (field !== 1) return;
    fields(body, from, to, (scopeField, scopeFrom, scopeTo) => {
      if (scopeField !== 2) return;
      fields(body, scopeFrom, scopeTo, (spanField) => {
        if (spanField === 2) spans += 1;
      });
    });
  });
  return spans;
}

function jsonSpans(body: Buffer): number {
  return body.toString('utf8').split('"spanId"').length - 1;
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(counts));
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const [, encoded = 'unknown', , signal] = (req.url ?? '').split('/');
    const setup = decodeURIComponent(encoded);
    const entry = (counts[setup] ??= { exports: 0, bytes: 0, spans: 0 });
    entry.exports += 1;
    entry.bytes += body.length;
    if (signal === 'traces') entry.spans += String(req.headers['content-type']).includes('json') ? jsonSpans(body) : protobufSpans(body);
    res.setHeader('content-type', String(req.headers['content-type'] ?? 'application/json'));
    res.end(String(req.headers['content-type']).includes('json') ? '{}' : '');
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on ${typeof address === 'object' && address !== null ? address.port : ''}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
