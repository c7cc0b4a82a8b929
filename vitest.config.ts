import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['common/test/**/*.test.ts', 'server/test/**/*.test.ts', 'client-sdk/test/**/*.test.ts'],
    // Integration tests open real SQLite files and real ports; two cores, so keep it modest.
    maxWorkers: 2,
    // A temporary root for the run, removed at its end (see the file).
    globalSetup: ['server/test/global-setup.ts'],
    // Tests and set-ups start servers, child processes and ClickHouse's engine (a 540 MB
    // library): on a slow, loaded machine a set-up took more than the default 10 s, and tests
    // that start a server of their own came within 2× of 20 s.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
