import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['common/test/**/*.test.ts', 'server/test/**/*.test.ts', 'client-sdk/test/**/*.test.ts'],
    // Integration tests open real SQLite files and real ports; two cores, so keep it modest.
    maxWorkers: 2,
    // A temporary root for the run, removed at its end (see the file).
    globalSetup: ['server/test/global-setup.ts'],
    testTimeout: 20_000,
    // Set-ups start servers, child processes and ClickHouse's engine (a 540 MB library): on a
    // slow, loaded machine they took more than the default 10 s.
    hookTimeout: 60_000,
  },
});
