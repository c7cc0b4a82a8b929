import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layer rule, enforced: pure core ← stores and services ← HTTP ← entry points; code
 * shared by the browser and the server in common/ depends on neither; and the demo
 * (server/src/demo/) uses the product only through its public entries — `variant-lens/node`
 * (server/src/node/index.ts), the collector (server/src/collector.ts) and common/ — while no
 * product file names the demo. Each entry names the files and the imports they must not
 * make; `no-restricted-imports` fails `npm run lint` on one (server/test/layering.test.ts
 * shows each does). ESLint keeps one set of options per rule and file, so every product
 * layer carries the demo group too.
 */
const SDK_PACKAGES = ['@opentelemetry/sdk-*', '@opentelemetry/exporter-*', '@opentelemetry/instrumentation*', '@opentelemetry/context-*', '@opentelemetry/resources'];
const IO_PACKAGES = ['express', 'better-sqlite3', 'node:fs', 'node:http', 'node:worker_threads', 'node:child_process'];
/** The product never names the demo; only the package's entry points above both may. */
const NOT_THE_DEMO = { regex: '(^|/)demo/', message: 'the product never imports its demo (server/src/demo/): the demo uses the product, not the reverse' };
const PRODUCT_FILES = ['server/src/**', 'server/dashboard/**'];
/** The entry points above product and demo: `npm start` and the `variant-lens` command. */
const ENTRY_POINTS = ['server/src/index.ts', 'server/src/cli/variant-lens.ts'];
const DEMO_MESSAGE = 'the demo uses the product only through variant-lens/node (node/index.js), the collector (collector.js) and common/';
const PUBLIC_ENTRIES = '(?!collector\\.js$|node/index\\.js$|\\.\\./\\.\\./common/src/)';
/**
 * A relative import leaving server/src/demo/ for anything but the public entries, from the
 * demo's top folder and from its sub-folders (one level deep: common/ is two folders up from
 * the edge of the demo either way).
 */
const DEMO_LAYERS = [
  { files: ['server/src/demo/*.ts'], regex: `^\\.\\./${PUBLIC_ENTRIES}` },
  { files: ['server/src/demo/*/**'], regex: `^\\.\\./\\.\\./${PUBLIC_ENTRIES}` },
];
const LAYERS = [
  {
    files: ['common/src/**'],
    message: 'common/ is shared by the browser SDK and the server: pure, importing neither',
    patterns: ['**/server/**', '**/client-sdk/**', '**/demo-site/**', ...IO_PACKAGES, ...SDK_PACKAGES, '@opentelemetry/api'],
  },
  {
    files: ['server/src/core/**'],
    message: 'the core is pure: no I/O, no OpenTelemetry SDK, nothing from the layers above it',
    patterns: ['../store/*', '../ingest/*', '../services/*', '../http/*', '../routes/*', '../telemetry/*', '../analysis/*', '../cli/*', '../feature-store/*', '../*.js', ...IO_PACKAGES, ...SDK_PACKAGES],
  },
  {
    files: ['server/src/store/**', 'server/src/analysis/**'],
    message: 'stores and analysis sources sit below the ingest pool, the services and the HTTP layer',
    patterns: ['../ingest/*', '../services/*', '../http/*', '../routes/*', '../cli/*', '../server.js', '../app.js', '../index.js'],
  },
  {
    // The collection endpoint's ingest (worker threads that decode and commit OTLP) is a service over the store.
    files: ['server/src/services/**', 'server/src/telemetry/**', 'server/src/ingest/**'],
    message: 'services and the ingest pool sit below the HTTP layer and the entry points',
    patterns: ['../http/*', '../routes/*', '../cli/*', '../server.js', '../app.js', '../index.js'],
  },
  {
    files: ['server/src/http/**'],
    message: 'middleware sits below the routers and the entry points',
    patterns: ['../routes/*', '../cli/*', '../server.js', '../app.js', '../index.js'],
  },
  {
    files: ['client-sdk/src/**'],
    message: 'the browser SDK imports shared code from common/, never the server tree',
    patterns: ['**/server/**', '**/demo-site/**', ...IO_PACKAGES],
  },
  {
    files: ['server/dashboard/**'],
    message: 'the dashboard reads the API through the wire types in common/, never the server code',
    patterns: ['../src/**', '**/server/src/**', ...IO_PACKAGES],
  },
  {
    files: ['demo-site/src/**'],
    message: 'the demo site uses the product through its public entry points only',
    patterns: ['**/server/**', '**/common/**', ...IO_PACKAGES],
  },
];

function layerRules() {
  const restrict = (patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });
  return [
    // First, so the layers below (which repeat it) take precedence on their own files.
    { files: PRODUCT_FILES, ignores: ['server/src/demo/**', ...ENTRY_POINTS], rules: restrict([NOT_THE_DEMO]) },
    ...LAYERS.map(({ files, message, patterns }) => ({
      files,
      ignores: ['server/src/demo/**'],
      rules: restrict([{ group: patterns, message }, ...(files.some((f) => PRODUCT_FILES.some((p) => f.startsWith(p.slice(0, -2)))) ? [NOT_THE_DEMO] : [])]),
    })),
    ...DEMO_LAYERS.map(({ files, regex }) => ({ files, rules: restrict([{ regex, message: DEMO_MESSAGE }]) })),
  ];
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'test-results/**', 'playwright-report/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        window: 'readonly', document: 'readonly', console: 'readonly', process: 'readonly',
        URL: 'readonly', fetch: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
        sessionStorage: 'readonly', localStorage: 'readonly', crypto: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
    },
  },
  ...layerRules(),
  {
    // Tests read JSON bodies whose shape the assertions themselves check.
    files: ['common/test/**', 'server/test/**', 'client-sdk/test/**', 'e2e/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
