/**
 * The layer rule is the linter's: an import that runs back up a layer, or the browser SDK
 * reaching into the server tree, fails `npm run lint`. Each case lints one line as if it were
 * in the file named, with the project's own ESLint configuration.
 */
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const eslint = new ESLint({ cwd: root });

async function restrictedImports(filePath: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${source}\nexport const used = 1;\n`, { filePath: join(root, filePath) });
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

describe('the layer rule, enforced by npm run lint', () => {
  it.each([
    ['server/src/core/x.ts', "import { TelemetryStore } from '../store/telemetry-store.js';"],
    ['server/src/core/x.ts', "import express from 'express';"],
    ['server/src/core/x.ts', "import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';"],
    ['server/src/store/x.ts', "import { AnalysisService } from '../services/analysis-service.js';"],
    ['server/src/store/x.ts', "import { IngestPool } from '../ingest/ingest-pool.js';"],
    ['server/src/ingest/x.ts', "import { HttpError } from '../http/http-error.js';"],
    ['server/src/services/x.ts', "import { HttpError } from '../http/http-error.js';"],
    ['server/src/http/x.ts', "import { telemetryApi } from '../routes/api-routes.js';"],
    ['client-sdk/src/x.ts', "import { guardBaggage } from '../../server/src/core/experiments.js';"],
    ['common/src/x.ts', "import { SPAN } from '../../server/src/core/request-attribution.js';"],
    ['server/dashboard/x.ts', "import type { StoredSpan } from '../src/store/telemetry-store.js';"],
  ])('refuses, in %s: %s', async (file, source) => {
    const messages = await restrictedImports(file, source);
    expect(messages, source).toHaveLength(1);
  });

  it.each([
    ['server/src/store/x.ts', "import { servedRequestOf } from '../core/request-attribution.js';"],
    ['server/src/ingest/x.ts', "import { TelemetryStore } from '../store/telemetry-store.js';"],
    ['server/src/services/x.ts', "import type { ContentStore } from '../store/content-store.js';"],
    ['client-sdk/src/x.ts', "import { guardBaggage } from '../../common/src/baggage-guard.js';"],
    ['server/src/core/x.ts', "import { ATTR } from '../../../common/src/semconv.js';"],
  ])('allows, in %s: %s', async (file, source) => {
    expect(await restrictedImports(file, source)).toEqual([]);
  });
});
