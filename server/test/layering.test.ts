/**
 * The layer rule is the linter's: an import that runs back up a layer, the browser SDK
 * reaching into the server tree, the product naming its demo, or the demo reaching past the
 * product's public entries, fails `npm run lint`. Each case lints one line as if it were
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
    ['server/dashboard/x.ts', "import type { ExperimentResults } from '../src/core/experiment-analysis.js';"],
    // The product never names its demo, whichever layer it is in.
    ['server/src/server.ts', "import { ContentStore } from './demo/catalogue/content-store.js';"],
    ['server/src/routes/x.ts', "import { visitorApi } from '../demo/web/visitor-api.js';"],
    ['server/src/core/x.ts', "import { recommend } from '../demo/recommendations/recommenders.js';"],
    ['server/src/store/x.ts', "import type { Article } from '../demo/catalogue/catalogue.js';"],
    ['server/src/services/x.ts', "import { startDemo } from '../demo/index.js';"],
    ['server/src/http/x.ts', "import { visitorId } from '../demo/web/visitor.js';"],
    // The demo uses the product through its public entries only, from its top folder and from its sub-folders.
    ['server/src/demo/x.ts', "import { TelemetryStore } from '../store/telemetry-store.js';"],
    ['server/src/demo/x.ts', "import { loadConfig } from '../config.js';"],
    ['server/src/demo/x.ts', "import { requestState } from '../node/request-state.js';"],
    ['server/src/demo/web/x.ts', "import { HttpError } from '../../http/http-error.js';"],
    ['server/src/demo/catalogue/x.ts', "import { migrate } from '../../store/migrations.js';"],
    ['server/src/demo/feature-store/x.ts', "import { startTelemetry } from '../../telemetry/telemetry.js';"],
    ['server/src/demo/recommendations/x.ts', "import { newRequestId } from '../../node/request-id.js';"],
  ])('refuses, in %s: %s', async (file, source) => {
    const messages = await restrictedImports(file, source);
    expect(messages, source).toHaveLength(1);
  });

  it.each([
    ['server/src/store/x.ts', "import { servedRequestOf } from '../core/request-attribution.js';"],
    ['server/src/services/x.ts', "import type { TelemetryStore } from '../store/telemetry-store.js';"],
    ['server/src/ingest/x.ts', "import { TelemetryStore } from '../store/telemetry-store.js';"],
    ['client-sdk/src/x.ts', "import { guardBaggage } from '../../common/src/baggage-guard.js';"],
    ['server/src/core/x.ts', "import { ATTR } from '../../../common/src/semconv.js';"],
    ['server/dashboard/x.ts', "import type { ExperimentResults } from '../../common/src/experiment-results.js';"],
    // The entry points above product and demo may name both.
    ['server/src/index.ts', "import { serveDemo } from './demo/index.js';"],
    ['server/src/cli/variant-lens.ts', "import { serveDemo } from '../demo/index.js';"],
    ['server/src/demo/x.ts', "import { startCollector } from '../collector.js';"],
    ['server/src/demo/x.ts', "import { experimentMiddleware } from '../node/index.js';"],
    ['server/src/demo/x.ts', "import { ATTR } from '../../../common/src/semconv.js';"],
    ['server/src/demo/x.ts', "import { ContentStore } from './catalogue/content-store.js';"],
    ['server/src/demo/web/x.ts', "import { HttpError } from '../../collector.js';"],
    ['server/src/demo/web/x.ts', "import { recordServed } from '../../node/index.js';"],
    ['server/src/demo/web/x.ts', "import { isValidVisitorId } from '../../../../common/src/visitor-id.js';"],
    ['server/src/demo/web/x.ts', "import { articleUrl } from '../recommendations/article-url.js';"],
  ])('allows, in %s: %s', async (file, source) => {
    expect(await restrictedImports(file, source)).toEqual([]);
  });
});
