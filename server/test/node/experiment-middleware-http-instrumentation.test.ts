import { SpanKind } from '@opentelemetry/api';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { describe, expect, it } from 'vitest';
import { experiments, instrumentedServer, liesWithin, PARENT, quickStartApp, TRACE_ID } from './middleware-harness.js';

const server = instrumentedServer([new HttpInstrumentation()], () => quickStartApp());

describe('experimentMiddleware with the stock @opentelemetry/instrumentation-http', () => {
  it('annotates the instrumentation\'s SERVER span instead of opening a second one', async () => {
    const response = await fetch(`${server.url()}/api/recs?userId=alice`, { headers: { traceparent: `00-${TRACE_ID}-${PARENT}-01` } });
    const body = (await response.json()) as any;
    const assigned = experiments.assign('alice');
    await expect.poll(() => server.spans().filter((s) => s.kind === SpanKind.SERVER).length, { timeout: 15_000 }).toBe(1);
    const serverSpan = server.spans().find((s) => s.kind === SpanKind.SERVER)!;
    const request = server.spans().find((s) => s.name === 'recommendation.request')!;
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
    for (let i = 0; i < requests; i += 1) expect((await fetch(`${server.url()}/api/recs?userId=u${i}`)).status).toBe(200);
    await expect.poll(() => server.spans().filter((s) => s.kind === SpanKind.SERVER).length, { timeout: 15_000 }).toBe(requests);
    const byId = new Map(server.spans().map((s) => [s.spanContext().spanId, s]));
    const outside = server
      .spans()
      .filter((s) => s.name === 'recommendation.request')
      .map((request) => ({ request, parent: byId.get(request.parentSpanContext!.spanId)! }))
      .filter(({ request, parent }) => !liesWithin(request, parent));
    expect(outside.length).toBe(0);
  });

  it('keeps the browser\'s claim off the instrumentation\'s span, which started before the middleware ran', async () => {
    await fetch(`${server.url()}/api/plain`, { headers: { baggage: 'experiment.rec_algorithm=hybrid' } });
    await expect.poll(() => server.spans().filter((s) => s.kind === SpanKind.SERVER).length, { timeout: 15_000 }).toBe(1);
    for (const span of server.spans()) {
      expect(span.attributes['experiment.rec_algorithm'], span.name).toBeUndefined();
      expect(span.attributes['variant_lens.unverified'], span.name).toBe(true);
    }
  });
});
