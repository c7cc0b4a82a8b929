import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningDemo as RunningServer } from '../../src/demo/index.js';
import { FeatureStoreProcess } from '../../src/demo/feature-store/feature-store-process.js';
import { startTestServer } from '../helpers.js';

let server: RunningServer & { dataDir: string };

// The server generates the content database the feature store reads.
beforeAll(async () => {
  server = await startTestServer({ OTEL_SDK_DISABLED: 'true' });
});

afterAll(async () => {
  await server.close();
});

describe('the feature store process', () => {
  it('says so once when it dies after starting, and stopping it afterwards does not wait for an exit that already happened', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const featureStore = await FeatureStoreProcess.start({
        port: 0,
        host: '127.0.0.1',
        dataDir: server.dataDir,
        experimentsFile: 'config/experiments.json',
        telemetryUrl: server.url,
        token: 'feature-store-test-token',
        telemetryDisabled: true,
        metricIntervalMs: 60_000,
        delayMs: 0,
      });
      expect((await fetch(`${featureStore.url}/features/u00001`, { headers: { authorization: 'Bearer feature-store-test-token' } })).status).toBe(200);
      process.kill(featureStore.pid!, 'SIGKILL');
      await vi.waitFor(() => expect(errors).toHaveBeenCalledWith('the feature store exited (SIGKILL); recommendations are ranked by control until the server restarts'), { timeout: 15_000 });
      await featureStore.stop();
      expect(errors).toHaveBeenCalledTimes(1);
    } finally {
      errors.mockRestore();
    }
  });
});
