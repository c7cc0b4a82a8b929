import { join } from 'node:path';
import express, { Router } from 'express';
import { builtPage } from '../../collector.js';

/** The demo content site: home at `/`, article pages at `/articles/:id`, topic pages at `/topics/:topic`, from `<distDir>/demo-site`. */
export function demoSiteRoutes(distDir: string): Router {
  const router = Router();
  const demoDir = join(distDir, 'demo-site');
  router.get('/articles/:id', builtPage(join(demoDir, 'article.html'), 'the demo site'));
  router.get('/topics/:topic', builtPage(join(demoDir, 'topic.html'), 'the demo site'));
  router.use(express.static(demoDir));
  return router;
}
