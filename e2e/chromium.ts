import { existsSync } from 'node:fs';
import { chromium } from '@playwright/test';

/** Debian's Chromium, where `apt-get install -y chromium` puts it. */
const SYSTEM_CHROMIUM = '/usr/bin/chromium';

/**
 * The browser the e2e suite drives: `CHROMIUM_PATH`, else a system Chromium, else
 * Playwright's own download. Fails with instructions when there is none.
 */
export function chromiumExecutable(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.CHROMIUM_PATH;
  if (configured) {
    if (!existsSync(configured)) throw new Error(`CHROMIUM_PATH is set to ${configured}, but no file is there`);
    return configured;
  }
  if (existsSync(SYSTEM_CHROMIUM)) return SYSTEM_CHROMIUM;
  const bundled = chromium.executablePath();
  if (bundled && existsSync(bundled)) return bundled;
  throw new Error(
    'No Chromium found for the e2e tests. Install one (Debian/Ubuntu: `sudo apt-get install -y chromium`), ' +
      'set CHROMIUM_PATH to a Chromium binary, or run `npx playwright install chromium` where downloads are allowed.',
  );
}

/** Flags for a headless Chromium on a closed network, as root in a container. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-quic', '--no-first-run', '--disable-sync'];
