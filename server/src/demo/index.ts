/**
 * The demo: a content site, its recommendation server and feature store, run inside the
 * collector through the product's public entries only (`variant-lens/node`, the collector).
 */
import { serve } from '../collector.js';
import { loadDemoConfig } from './demo-config.js';
import { startDemo } from './demo-server.js';

export { CATALOGUE_SEED, CATALOGUE_SIZE, startDemo } from './demo-server.js';
export type { RunningDemo } from './demo-server.js';
export { loadDemoConfig } from './demo-config.js';
export type { DemoConfig } from './demo-config.js';

/** `npm start`, `variant-lens demo`: the demo inside the collector, until SIGTERM/SIGINT. */
export function serveDemo(): Promise<void> {
  return serve({
    name: 'demo',
    loadConfig: loadDemoConfig,
    start: startDemo,
    links: (url) => [`demo site   ${url}/?user=u00042   (a generated visitor; ?user=ID reads as ID)`, `API         ${url}/api/recommendations?userId=alice`],
  });
}
