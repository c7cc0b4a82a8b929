/**
 * The middleware behind both stock instrumentations the OpenTelemetry docs register for an
 * Express app (`@opentelemetry/instrumentation-http` and `-express`, as the auto-instrumentations
 * do). Express's instrumentation runs each middleware in a span of its own, which ends when the
 * middleware calls `next()`: the SERVER span is the HTTP instrumentation's, and that is the one
 * the request's variants belong on.
 */
import { SpanKind } from '@opentelemetry/api';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { experimentMiddleware, recordServed } from '../../src/node/index.js';
import { experiments, instrumentedServer, liesWithin } from './middleware-harness.js';

const server = instrumentedServer([new HttpInstrumentation(), new ExpressInstrumentation()], (require) => {
  const express = require('express') as typeof import('express');
  const app = express();
  app.use('/api', experimentMiddleware({ experiments, visitorId: (req) => (typeof req.query.userId === 'string' ? req.query.userId : undefined) }));
  app.get('/api/recs', (req, res) => res.json(recordServed(req, { count: 2, contentIds: ['a1', 'a2'] })));
  return app;
});

describe('experimentMiddleware with the stock HTTP and Express instrumentations', () => {
  it('puts the variants on the HTTP instrumentation\'s SERVER span, and the request span under it, within it', async () => {
    const requests = 20;
    for (let i = 0; i < requests; i += 1) expect((await fetch(`${server.url()}/api/recs?userId=u${i}`)).status).toBe(200);
    await expect.poll(() => server.spans().filter((s) => s.kind === SpanKind.SERVER).length, { timeout: 15_000 }).toBe(requests);
    const spans = server.spans();
    // Express's instrumentation is active: it made spans of its own for the middleware and the route.
    expect(spans.some((s) => s.instrumentationScope.name === '@opentelemetry/instrumentation-express')).toBe(true);
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const wrong: string[] = [];
    for (const request of spans.filter((s) => s.name === 'recommendation.request')) {
      const parent = byId.get(request.parentSpanContext!.spanId) as ReadableSpan;
      const assigned = experiments.assign(String(request.attributes['user.id']));
      if (parent.kind !== SpanKind.SERVER) wrong.push(`${request.attributes['user.id']}: parent is ${parent.name}`);
      else if (Object.entries(assigned.baggage).some(([key, value]) => parent.attributes[key] !== value)) wrong.push(`${request.attributes['user.id']}: SERVER span without the variants`);
      else if (!liesWithin(request, parent)) wrong.push(`${request.attributes['user.id']}: outside its SERVER span`);
    }
    expect(wrong).toEqual([]);
  });
});
