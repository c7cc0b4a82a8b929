import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { Router, type RequestHandler } from 'express';

/** Where the built browser assets are. */
export interface StaticConfig {
  /** The build output: `sdk/` and `demo-site/` below it. */
  readonly distDir: string;
  /** Serve the demo content site (false for the collector alone, whose `/` is the dashboard). */
  readonly demoSite: boolean;
}

/**
 * `/sdk.js`, the demo content site at `/` (article pages at `/articles/:id`, topic pages at
 * `/topics/:topic`), and the dashboard at `/dashboard` (its trace view at `/dashboard/trace.html`).
 */
export function staticRoutes(config: StaticConfig): Router {
  const router = Router();
  const sdkFile = join(config.distDir, 'sdk', 'variant-lens.iife.js');
  const demoDir = join(config.distDir, 'demo-site');
  const missing = (what: string) => `${what} is not built; run \`npm run build\` (npm start does this)`;
  router.get('/sdk.js', (_req, res) => {
    if (!existsSync(sdkFile)) {
      res.status(404).json({ error: missing('the SDK') });
      return;
    }
    res.sendFile(sdkFile, { headers: { 'Cache-Control': 'no-cache' } });
  });
  /** Serves one built HTML page, or a JSON 404 saying how to build it. */
  const page =
    (file: string, what: string): RequestHandler =>
    (_req, res) => {
      res.sendFile(file, (error) => {
        if (error !== undefined && !res.headersSent) res.status(404).json({ error: missing(what) });
      });
    };
  const dashboardDir = join(config.distDir, 'dashboard');
  router.get(['/dashboard', '/dashboard/'], page(join(dashboardDir, 'index.html'), 'the dashboard'));
  router.use('/dashboard', express.static(dashboardDir));
  if (!config.demoSite) {
    router.get('/', (_req, res) => res.redirect('/dashboard'));
    return router;
  }
  router.get('/articles/:id', page(join(demoDir, 'article.html'), 'the demo site'));
  router.get('/topics/:topic', page(join(demoDir, 'topic.html'), 'the demo site'));
  router.use(express.static(demoDir));
  return router;
}
