// A team's own recommendation service (not the demo): Express + variant-lens/node, as the README shows.
import express from 'express';
import { startTelemetry, loadExperiments, experimentMiddleware, getExperimentContext, recordServed } from 'variant-lens/node';

const { PORT = '0', COLLECTOR_URL = 'http://localhost:3000', PAGE_ORIGIN = 'http://localhost:8080' } = process.env;
const telemetry = startTelemetry({ serviceName: 'my-recs', collectorUrl: COLLECTOR_URL, token: process.env.VARIANT_LENS_TOKEN, metricIntervalMs: 1000 });
const experiments = loadExperiments(process.env.EXPERIMENTS_FILE ?? 'experiments.json');
const stories = Array.from({ length: 30 }, (_, i) => ({ contentId: `story-${i + 1}`, title: `Story ${i + 1}`, comments: (i * 7) % 30 }));

/** Our own ranking: newest first for control, most discussed first for the others. */
function myRanker(variant, limit) {
  const ranked = variant === 'control' ? [...stories].reverse() : [...stories].sort((a, b) => b.comments - a.comments);
  return ranked.slice(0, limit).map((story, i) => ({ contentId: story.contentId, title: story.title, url: `${PAGE_ORIGIN}/stories/${story.contentId}`, position: i + 1 }));
}

const app = express();
app.use((req, res, next) => {
  // The page is on another origin; it sends traceparent and baggage with its fetch.
  res.set({ 'Access-Control-Allow-Origin': PAGE_ORIGIN, 'Access-Control-Allow-Headers': 'traceparent, tracestate, baggage' });
  if (req.method === 'OPTIONS') res.sendStatus(204);
  else next();
});
app.use('/api', experimentMiddleware({ experiments, visitorId: (req) => String(req.query.userId ?? '') || undefined }));
app.get('/api/recommendations', (req, res) => {
  const { experiments: variants } = getExperimentContext(req);
  const limit = Math.min(Number(req.query.limit) || 5, 20);
  const items = myRanker(variants['rec_algorithm_v3'], limit);
  res.json({ ...recordServed(req, { count: items.length, contentIds: items.map((i) => i.contentId) }), recommendations: items });
});

const server = app.listen(Number(PORT), '127.0.0.1', () => console.log(`my-recs listening on http://127.0.0.1:${server.address().port}`));
process.on('SIGTERM', () => {
  server.close();
  telemetry.shutdown().finally(() => process.exit(0));
});
