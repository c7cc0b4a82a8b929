import { resolve } from 'node:path';
import { defineConfig, type UserConfig } from 'vite';

const root = import.meta.dirname;

/** The SDK emits no logs: `@opentelemetry/instrumentation`'s logs API becomes a no-op (see the shim). */
const sdkResolve: UserConfig['resolve'] = {
  alias: { '@opentelemetry/api-logs': resolve(root, 'client-sdk/src/api-logs-shim.ts') },
};

/** The SDK for a `<script>` tag: one IIFE file exposing the global `VariantLens`. */
const sdkScriptTag: UserConfig = {
  resolve: sdkResolve,
  build: {
    outDir: resolve(root, 'dist/sdk'),
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    lib: {
      entry: resolve(root, 'client-sdk/src/script-tag.ts'),
      name: 'VariantLens',
      formats: ['iife'],
      fileName: () => 'variant-lens.iife.js',
    },
  },
};

/** The SDK as an ES module (`variant-lens/client`), its dependencies bundled in. */
const sdkModule: UserConfig = {
  resolve: sdkResolve,
  build: {
    outDir: resolve(root, 'dist/sdk'),
    emptyOutDir: false,
    sourcemap: true,
    lib: {
      entry: resolve(root, 'client-sdk/src/index.ts'),
      formats: ['es'],
      fileName: () => 'variant-lens.js',
    },
  },
};

/** The demo content site: a multi-page Vite app. */
const demoSite: UserConfig = {
  root: resolve(root, 'demo-site'),
  build: {
    outDir: resolve(root, 'dist/demo-site'),
    emptyOutDir: true,
    rollupOptions: {
      input: {
        index: resolve(root, 'demo-site/index.html'),
        article: resolve(root, 'demo-site/article.html'),
        topic: resolve(root, 'demo-site/topic.html'),
      },
    },
  },
};

/** The results dashboard, served at `/dashboard`, and its trace view at `/dashboard/trace.html`. */
const dashboard: UserConfig = {
  root: resolve(root, 'server/dashboard'),
  base: '/dashboard/',
  build: {
    outDir: resolve(root, 'dist/dashboard'),
    emptyOutDir: true,
    rollupOptions: {
      input: {
        index: resolve(root, 'server/dashboard/index.html'),
        trace: resolve(root, 'server/dashboard/trace.html'),
      },
    },
  },
};

export default defineConfig(({ mode }) => {
  if (mode === 'dashboard') return dashboard;
  if (mode === 'sdk') return sdkScriptTag;
  if (mode === 'sdk-module') return sdkModule;
  return demoSite;
});
