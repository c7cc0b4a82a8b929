import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, chromiumExecutable } from './chromium.js';
import { E2E_READ_TOKEN } from './server-process.js';

const port = Number(process.env.E2E_PORT ?? 3199);
const baseURL = `http://localhost:${port}`;
/** A second server whose experiments file has concluded `rec_algorithm_v3` (winner: hybrid). */
const concludedPort = port - 1;
process.env.E2E_CONCLUDED_URL = `http://localhost:${concludedPort}`;
// A fresh store per run, so assertions see only this run's telemetry; removed when the run ends
// (global-teardown.ts). Workers load this file again and find the folder in the environment.
const dataDir = process.env.E2E_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'variant-lens-e2e-'));
if (process.env.E2E_DATA_DIR === undefined) process.env.E2E_DATA_DIR_MADE = dataDir;
process.env.E2E_DATA_DIR = dataDir;

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  outputDir: '../test-results',
  globalTeardown: './global-teardown.ts',
  fullyParallel: false,
  workers: 1,
  retries: process.env.CI ? 1 : 0,
  reporter: [['list'], ['html', { outputFolder: '../playwright-report', open: 'never' }]],
  timeout: 60_000,
  use: {
    baseURL,
    trace: 'on-first-retry',
    launchOptions: { executablePath: chromiumExecutable(), args: CHROMIUM_ARGS },
  },
  webServer: [
    {
      // The server exactly as `npm start` runs it, after the test command has built it.
      command: 'npm run serve',
      cwd: '..',
      url: `${baseURL}/healthz`,
      reuseExistingServer: false,
      timeout: 60_000,
      env: { PORT: String(port), FEATURE_STORE_PORT: '0', DATA_DIR: dataDir, METRIC_INTERVAL_MS: '1000', READ_TOKEN: E2E_READ_TOKEN },
      stdout: 'pipe',
      stderr: 'pipe',
    },
    {
      command: 'npm run serve',
      cwd: '..',
      url: `http://localhost:${concludedPort}/healthz`,
      reuseExistingServer: false,
      timeout: 60_000,
      env: {
        PORT: String(concludedPort),
        FEATURE_STORE_PORT: '0',
        DATA_DIR: join(dataDir, 'concluded'),
        EXPERIMENTS_FILE: 'e2e/fixtures/experiments-concluded.json',
        // The SDK tests call this server from the main one's pages, as another origin.
        CORS_ORIGINS: baseURL,
        METRIC_INTERVAL_MS: '1000',
        READ_TOKEN: E2E_READ_TOKEN,
      },
    },
  ],
});
