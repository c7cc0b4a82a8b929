import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { Router, type RequestHandler } from 'express';

/** Where the built browser assets are. */
export interface StaticConfig {
  /** The build output: `sdk/` and `dashboard/` below it. */
  readonly distDir: string;
}

/** Why a built page or bundle is missing, and what to do. */
export function notBuilt(what: string): string {
  return `${what} is not built; run \`npm run build\` (npm start does this)`;
}

/** Serves one built HTML page, or a JSON 404 saying how to build it. */
export function builtPage(file: string, what: string): RequestHandler {
  return (_req, res) => {
    res.sendFile(file, (error) => {
      if (error !== undefined && !res.headersSent) res.status(404).json({ error: notBuilt(what) });
    });
  };
}

/**
 * `/sdk.js`, the dashboard at `/dashboard` (its trace view at `/dashboard/trace.html`), and
 * `/` redirecting to the dashboard unless a team's routes (the demo site) answered it first.
 */
export function staticRoutes(config: StaticConfig): Router {
  const router = Router();
  const sdkFile = join(config.distDir, 'sdk', 'variant-lens.iife.js');
  router.get('/sdk.js', (_req, res) => {
    if (!existsSync(sdkFile)) {
      res.status(404).json({ error: notBuilt('the SDK') });
      return;
    }
    res.sendFile(sdkFile, { headers: { 'Cache-Control': 'no-cache' } });
  });
  const dashboardDir = join(config.distDir, 'dashboard');
  router.get(['/dashboard', '/dashboard/'], builtPage(join(dashboardDir, 'index.html'), 'the dashboard'));
  router.use('/dashboard', express.static(dashboardDir));
  router.get('/', (_req, res) => res.redirect('/dashboard'));
  return router;
}
