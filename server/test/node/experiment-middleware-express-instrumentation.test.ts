/**
 * The middleware behind both stock instrumentations the OpenTelemetry docs register for an
 * Express app (`@opentelemetry/instrumentation-http` and `-express`, as the auto-instrumentations
 * do). Express's instrumentation runs each middleware in a span of its own, which ends when the
 * middleware calls `next()`: the SERVER span is the HTTP instrumentation's, and that is the one
 * the request's variants belong on.
 */
import { SpanKind } from '@opentelemetry/api';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { experimentMiddleware, recordServed } from '../../src/node/index.js';
import { experiments, listen, registerSdk } from './middleware-harness.js';

let server: Server;
let url: string;
let sdk: ReturnType<typeof registerSdk>;
let unregister: () => void;

beforeAll(async () => {
  sdk = registerSdk();
  unregister = registerInstrumentations({ instrumentations: [new HttpInstrumentation(), new ExpressInstrumentation()] });
  // Required after the instrumentations are enabled, so that they patch them.
  const require = createRequire(import.meta.url);
  const http = require('node:http') as typeof import('node:http');
  const express = require('express') as typeof import('express');
  const app = express();
  app.use('/api', experimentMiddleware({ experiments, visitorId: (req) => (typeof req.query.userId === 'string' ? req.query.userId : undefined) }));
  app.get('/api/recs', (req, res) => res.json(recordServed(req, { count: 2, contentIds: ['a1', 'a2'] })));
  server = http.createServer(app);
  url = await listen(server);
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  unregister();
});

beforeEach(() => sdk.spans().splice(0));

const ns = (time: [number, number]) => BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]);

describe('experimentMiddleware with the stock HTTP and Express instrumentations', () => {
  it('puts the variants on the HTTP instrumentation\'s SERVER span, and the request span under it, within it', async () => {
    const requests = 20;
    for (let i = 0; i < requests; i += 1) expect((await fetch(`${url}/api/recs?userId=u${i}`)).status).toBe(200);
    await expect.poll(() => sdk.spans().filter((s) => s.kind === SpanKind.SERVER).length, { timeout: 15_000 }).toBe(requests);
    const spans = sdk.spans();
    // Express's instrumentation is active: it made spans of its own for the middleware and the route.
    expect(spans.some((s) => s.instrumentationScope.name === '@opentelemetry/instrumentation-express')).toBe(true);
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const wrong: string[] = [];
    for (const request of spans.filter((s) => s.name === 'recommendation.request')) {
      const parent = byId.get(request.parentSpanContext!.spanId) as ReadableSpan;
      const assigned = experiments.assign(String(request.attributes['user.id']));
      if (parent.kind !== SpanKind.SERVER) wrong.push(`${request.attributes['user.id']}: parent is ${parent.name}`);
      else if (Object.entries(assigned.baggage).some(([key, value]) => parent.attributes[key] !== value)) wrong.push(`${request.attributes['user.id']}: SERVER span without the variants`);
      else if (ns(request.startTime) < ns(parent.startTime) || ns(request.endTime) > ns(parent.endTime)) wrong.push(`${request.attributes['user.id']}: outside its SERVER span`);
    }
    expect(wrong).toEqual([]);
  });
});
