import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, type Context } from '@opentelemetry/api';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import express, { type Request } from 'express';
import { experimentMiddleware, getExperimentContext, recordServed } from '../../src/node/index.js';
import { STATE_KEY, type RequestState } from '../../src/node/request-state.js';
import { experiments, listen, PARENT, quickStartApp, registerSdk, TRACE_ID } from './middleware-harness.js';

let server: Server;
let url: string;
let sdk: ReturnType<typeof registerSdk>;

beforeAll(async () => {
  sdk = registerSdk();
  server = createServer(quickStartApp());
  url = await listen(server);
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(() => sdk.spans().splice(0));

async function get(path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}${path}`, { headers });
  return { status: response.status, body: (await response.json()) as any };
}

describe('experimentMiddleware without HTTP instrumentation', () => {
  it('opens one lean SERVER span in the caller\'s trace, with the request span and the visitor\'s variants on both', async () => {
    const { body } = await get('/api/recs?userId=alice', { traceparent: `00-${TRACE_ID}-${PARENT}-01` });
    const assigned = experiments.assign('alice');
    expect(body).toMatchObject({ experiments: assigned.experiments, baggage: assigned.baggage, variants: assigned.experiments });
    const spans = sdk.spans();
    const serverSpans = spans.filter((s) => s.kind === SpanKind.SERVER);
    expect(serverSpans).toHaveLength(1);
    const [serverSpan] = serverSpans;
    const request = spans.find((s) => s.name === 'recommendation.request')!;
    expect(serverSpan!.name).toBe('GET /api/recs');
    expect(serverSpan!.spanContext().traceId).toBe(TRACE_ID);
    expect(serverSpan!.parentSpanContext?.spanId).toBe(PARENT);
    expect(request.parentSpanContext?.spanId).toBe(serverSpan!.spanContext().spanId);
    expect(body.trace).toEqual({ traceId: TRACE_ID, spanId: request.spanContext().spanId });
    expect(request.attributes).toMatchObject({
      ...assigned.baggage,
      'user.id': 'alice',
      'recommendation.count': 3,
      'recommendation.content_ids': ['a1', 'a2', 'a3'],
      'recommendation.request_id': body.requestId,
    });
    expect(request.events.filter((e) => e.name === 'feature_flag.evaluation').map((e) => e.attributes?.['feature_flag.result.reason'])).toEqual(['split', 'split']);
    expect(serverSpan!.attributes).toMatchObject(assigned.baggage);
    expect(serverSpan!.attributes['user.id']).toBeUndefined();
  });

  it('propagates the trusted baggage, not the claimed one, and records the mismatch', async () => {
    const assigned = experiments.assign('carol');
    const spoofed = ['control', 'collaborative', 'hybrid'].find((v) => v !== assigned.baggage['experiment.rec_algorithm'])!;
    const { body } = await get('/api/recs?userId=carol', { baggage: `experiment.rec_algorithm=${spoofed},user.id=carol,evil=1` });
    expect(body.outgoing.baggage.split(',').sort()).toEqual(Object.entries(assigned.baggage).map(([k, v]) => `${k}=${v}`).sort());
    const serverSpan = sdk.spans().find((s) => s.kind === SpanKind.SERVER)!;
    expect(serverSpan.attributes).toMatchObject({ 'experiment.baggage_mismatch': true, 'experiment.rec_algorithm': assigned.baggage['experiment.rec_algorithm'] });
  });

  it('believes nothing without a visitor: no experiment attributes, no baggage onward, spans marked unverified', async () => {
    const { body } = await get('/api/plain', { baggage: 'experiment.rec_algorithm=hybrid,experiment.ranking_boost=nonsense' });
    expect(body).toMatchObject({ experiments: {}, baggage: {}, verified: false });
    expect(body.visitorId).toBeUndefined();
    const spans = sdk.spans();
    expect(spans.map((s) => s.name).sort()).toEqual(['GET /api/plain', 'db.query']);
    for (const span of spans) {
      expect(Object.keys(span.attributes).filter((k) => k.startsWith('experiment.'))).toEqual([]);
      expect(span.attributes['variant_lens.unverified']).toBe(true);
    }
    expect(spans.find((s) => s.kind === SpanKind.SERVER)!.attributes['variant_lens.unverified.baggage']).toEqual(['experiment.rec_algorithm=hybrid']);
  });

  it('guards a returning visitor\'s claims as on the first request: the remembered assignment never lets a spoofed variant through', async () => {
    const assigned = experiments.assign('dave');
    const spoofed = ['control', 'collaborative', 'hybrid'].find((v) => v !== assigned.baggage['experiment.rec_algorithm'])!;
    const own = Object.entries(assigned.baggage).map(([k, v]) => `${k}=${v}`).join(',');
    const first = await get('/api/recs?userId=dave');
    const agreeing = await get('/api/recs?userId=dave', { baggage: `${own},unrelated=1` });
    const claiming = await get('/api/recs?userId=dave', { baggage: `experiment.rec_algorithm=${spoofed}` });
    for (const { body } of [first, agreeing, claiming]) {
      expect(body).toMatchObject({ experiments: assigned.experiments, baggage: assigned.baggage });
      expect(body.outgoing.baggage.split(',').sort()).toEqual(own.split(',').sort());
    }
    const serverSpans = sdk.spans().filter((s) => s.kind === SpanKind.SERVER);
    expect(serverSpans.map((s) => s.attributes['experiment.baggage_mismatch'])).toEqual([undefined, undefined, true]);
    expect(serverSpans[2]!.attributes['experiment.baggage_mismatch.keys']).toEqual(['experiment.rec_algorithm']);
    for (const span of sdk.spans()) expect(span.attributes['experiment.rec_algorithm']).toBe(assigned.baggage['experiment.rec_algorithm']);
    expect(new Set([first, agreeing, claiming].map(({ body }) => body.requestId)).size).toBe(3);
  });

  it('records the visit\'s session.id from the inbound baggage on the request span, never passes it on, and ignores what is not a session id', async () => {
    const assigned = experiments.assign('erin');
    const own = Object.entries(assigned.baggage).map(([k, v]) => `${k}=${v}`).join(',');
    const session = '0123456789abcdef0123456789abcdef';
    const named = await get('/api/recs?userId=erin', { baggage: `${own},session.id=${session}` });
    const first = await get('/api/recs?userId=frank', { baggage: `session.id=${session}` });
    const hostile = await get('/api/recs?userId=erin', { baggage: `session.id=${encodeURIComponent('<b>x</b>')}` });
    const none = await get('/api/recs?userId=erin');
    const requests = sdk.spans().filter((s) => s.name === 'recommendation.request');
    expect(requests.map((s) => s.attributes['session.id'])).toEqual([session, session, undefined, undefined]);
    // Naming the session is not a claim on a variant: nothing is recorded as a mismatch.
    for (const span of sdk.spans()) expect(span.attributes['experiment.baggage_mismatch']).toBeUndefined();
    for (const { body } of [named, first, hostile, none]) expect(body.outgoing.baggage ?? '').not.toContain('session.id');
  });

  it('answers an invalid visitor id with a 400 and no project-specific error type', async () => {
    const response = await fetch(`${url}/api/recs?userId=${'x'.repeat(200)}`);
    expect(response.status).toBe(400);
  });
});

describe('the SERVER span of a request whose client went away', () => {
  it('ends, named by its route, without a status code or an error status', async () => {
    const app = express();
    app.use('/api', experimentMiddleware({ experiments, visitorId: (req) => String(req.query.userId ?? '') || undefined }));
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    let closed!: () => void;
    const responseClosed = new Promise<void>((resolve) => (closed = resolve));
    app.get('/api/slow', (_req, res) => {
      // Registered after the middleware's own listener, so it runs after it; no answer is ever sent.
      res.on('close', closed);
      arrived();
    });
    const own = createServer(app);
    const base = await listen(own);
    try {
      const client = new AbortController();
      const pending = fetch(`${base}/api/slow?userId=fay`, { signal: client.signal }).catch((error: unknown) => error);
      await requestArrived;
      client.abort();
      await pending;
      await responseClosed;
      const span = sdk.spans().find((s) => s.kind === SpanKind.SERVER && s.name === 'GET /api/slow');
      expect(span).toBeDefined();
      expect(span!.attributes).toMatchObject({ 'http.route': '/api/slow', ...experiments.assign('fay').baggage });
      expect(span!.attributes['http.response.status_code']).toBeUndefined();
      expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    } finally {
      // The client's pool keeps a connection open for seconds after the abort.
      own.closeAllConnections();
      await new Promise<void>((resolve) => own.close(() => resolve()));
    }
  });
});

describe("the request's state", () => {
  it('stays off the request object and out of what res.locals shows; found when the app replaced res.locals or lost the context, not both', async () => {
    const app = express();
    app.use(experimentMiddleware({ experiments, visitorId: (req) => String(req.query.userId ?? '') || undefined }));
    app.use((req, res, next) => {
      if (req.query.replace === '1') res.locals = { user: 'from the app' };
      next();
    });
    app.get('/recs', (req, res) => {
      // A callback of a library that does not keep the async context runs in the root context.
      const lost = req.query.lost === '1';
      let variants: unknown;
      try {
        variants = lost ? context.with(ROOT_CONTEXT, () => getExperimentContext(req).experiments) : getExperimentContext(req).experiments;
      } catch (error) {
        res.status(500).json({ error: (error as Error).message });
        return;
      }
      res.json({
        variants,
        served: recordServed(req, { count: 1 }).experiments,
        requestSymbols: Object.getOwnPropertySymbols(req).map(String),
        locals: JSON.parse(JSON.stringify(res.locals)),
      });
    });
    const own = createServer(app);
    const base = await listen(own);
    try {
      const assigned = experiments.assign('dora');
      for (const [replace, lost] of [['0', '0'], ['1', '0'], ['0', '1']]) {
        const response = await fetch(`${base}/recs?userId=dora&replace=${replace}&lost=${lost}`);
        expect(response.status).toBe(200);
        const body = (await response.json()) as { variants: unknown; served: unknown; requestSymbols: string[]; locals: unknown };
        expect(body.variants).toEqual(assigned.experiments);
        expect(body.served).toEqual(assigned.experiments);
        expect(body.requestSymbols.filter((name) => name.includes('variant-lens'))).toEqual([]);
        expect(body.locals).toEqual(replace === '1' ? { user: 'from the app' } : {});
      }
      const both = await fetch(`${base}/recs?userId=dora&replace=1&lost=1`);
      expect(both.status).toBe(500);
      expect(((await both.json()) as { error: string }).error).toContain('experimentMiddleware did not run');
    } finally {
      await new Promise<void>((resolve) => own.close(() => resolve()));
    }
  });

  it("lets go of the request once the response has closed: a context kept after it does not keep the request, which still finds its state", async () => {
    const app = express();
    app.use(experimentMiddleware({ experiments, visitorId: (req) => String(req.query.userId ?? '') || undefined }));
    let kept: { context: Context; req: Request } | undefined;
    let closed!: () => void;
    const responseClosed = new Promise<void>((resolve) => (closed = resolve));
    app.get('/keep', (req, res) => {
      // What a timer or a pool's socket started here would keep: the handler's context.
      kept = { context: context.active(), req };
      // Registered after the middleware's own listener, so it runs after it.
      res.on('close', closed);
      res.json(recordServed(req, { count: 0 }));
    });
    const own = createServer(app);
    const base = await listen(own);
    try {
      expect((await fetch(`${base}/keep?userId=erin`)).status).toBe(200);
      await responseClosed;
      const state = kept!.context.getValue(STATE_KEY) as RequestState;
      expect(state.experimentContext.visitorId).toBe('erin');
      expect(state.request).toBeUndefined();
      expect(context.with(kept!.context, () => getExperimentContext(kept!.req)).experiments).toEqual(experiments.assign('erin').experiments);
    } finally {
      await new Promise<void>((resolve) => own.close(() => resolve()));
    }
  });
});

