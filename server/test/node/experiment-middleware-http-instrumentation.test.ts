import { SpanKind } from '@opentelemetry/api';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { experiments, listen, PARENT, quickStartApp, registerSdk, TRACE_ID } from './middleware-harness.js';

let server: Server;
let url: string;
let sdk: ReturnType<typeof registerSdk>;
let unregister: () => void;

beforeAll(async () => {
  sdk = registerSdk();
  unregister = registerInstrumentations({ instrumentations: [new HttpInstrumentation()] });
  // Required after the instrumentation is enabled, so the stock instrumentation patches it.
  const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');
  server = http.createServer(quickStartApp());
  url = await listen(server);
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  unregister();
});

beforeEach(() => sdk.spans().splice(0));

describe('experimentMiddleware with the stock @opentelemetry/instrumentation-http', () => {
  it('annotates the instrumentation\'s SERVER span instead of opening a second one', async () => {
    const response = await fetch(`${url}/api/recs?userId=alice`, { headers: { traceparent: `00-${TRACE_ID}-${PARENT}-01` } });
    const body = (await response.json()) as any;
    const assigned = experiments.assign('alice');
    await expect.poll(() => sdk.spans().filter((s) => s.kind === SpanKind.SERVER).length, { timeout: 15_000 }).toBe(1);
    const serverSpan = sdk.spans().find((s) => s.kind === SpanKind.SERVER)!;
    const request = sdk.spans().find((s) => s.name === 'recommendation.request')!;
    expect(serverSpan.instrumentationScope.name).toBe('@opentelemetry/instrumentation-http');
    expect(serverSpan.spanContext().traceId).toBe(TRACE_ID);
    expect(serverSpan.attributes).toMatchObject(assigned.baggage);
    expect(request.parentSpanContext?.spanId).toBe(serverSpan.spanContext().spanId);
    expect(request.attributes).toMatchObject({ ...assigned.baggage, 'recommendation.request_id': body.requestId });
  });

  it('records each request span within the instrumentation\'s SERVER span: never starting before it, never ending after it', async () => {
    // Warm requests, microseconds apart from their SERVER span's start and end: two clocks
    // anchored a millisecond apart put a child outside its parent in a tenth of them.
    const requests = 200;
    for (let i = 0; i < requests; i += 1) expect((await fetch(`${url}/api/recs?userId=u${i}`)).status).toBe(200);
    await expect.poll(() => sdk.spans().filter((s) => s.kind === SpanKind.SERVER).length, { timeout: 15_000 }).toBe(requests);
    const ns = (time: [number, number]) => BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]);
    const byId = new Map(sdk.spans().map((s) => [s.spanContext().spanId, s]));
    const outside = sdk
      .spans()
      .filter((s) => s.name === 'recommendation.request')
      .map((request) => ({ request, server: byId.get(request.parentSpanContext!.spanId)! }))
      .filter(({ request, server }) => ns(request.startTime) < ns(server.startTime) || ns(request.endTime) > ns(server.endTime));
    expect(outside.length).toBe(0);
  });

  it('keeps the browser\'s claim off the instrumentation\'s span, which started before the middleware ran', async () => {
    await fetch(`${url}/api/plain`, { headers: { baggage: 'experiment.rec_algorithm=hybrid' } });
    await expect.poll(() => sdk.spans().filter((s) => s.kind === SpanKind.SERVER).length, { timeout: 15_000 }).toBe(1);
    for (const span of sdk.spans()) {
      expect(span.attributes['experiment.rec_algorithm'], span.name).toBeUndefined();
      expect(span.attributes['variant_lens.unverified'], span.name).toBe(true);
    }
  });
});
