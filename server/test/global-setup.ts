/**
 * One folder for every temporary folder of a test run (`tempDir` makes them inside it),
 * removed when the run ends: the stores, content databases and chdb folders the tests make
 * come to about 10 MB a test file, and a developer's /tmp would otherwise keep every run's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    tempRoot: string;
  }
}

export default function setup(project: TestProject): () => void {
  const root = mkdtempSync(join(tmpdir(), 'variant-lens-tests-'));
  project.provide('tempRoot', root);
  return () => rmSync(root, { recursive: true, force: true });
}
