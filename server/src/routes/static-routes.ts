import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { Router } from 'express';

/** Where the built browser assets are. */
export interface StaticConfig {
  /** The build output: `sdk/` and `demo-site/` below it. */
  readonly distDir: string;
}

/** `/sdk.js`, the demo content site at `/`, and article pages at `/articles/:id`. */
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
  router.get('/articles/:id', (_req, res) => {
    res.sendFile(join(demoDir, 'article.html'), (error) => {
      if (error !== undefined && !res.headersSent) res.status(404).json({ error: missing('the demo site') });
    });
  });
  const dashboardDir = join(config.distDir, 'dashboard');
  router.get(['/dashboard', '/dashboard/'], (_req, res) => {
    res.sendFile(join(dashboardDir, 'index.html'), (error) => {
      if (error !== undefined && !res.headersSent) res.status(404).json({ error: missing('the dashboard') });
    });
  });
  router.use('/dashboard', express.static(dashboardDir));
  router.use(express.static(demoDir));
  return router;
}
