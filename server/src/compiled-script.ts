import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The compiled JavaScript of a file under `server/src` that runs as its own thread or
 * process: beside this module in `dist`, or in `dist` when the tests run the TypeScript
 * sources (the test command builds first).
 */
export function compiledScript(pathFromSrc: string, what: string): string {
  const candidates = [new URL(`./${pathFromSrc}`, import.meta.url), new URL(`../../dist/server/src/${pathFromSrc}`, import.meta.url)];
  for (const candidate of candidates) {
    const path = fileURLToPath(candidate);
    if (existsSync(path)) return path;
  }
  throw new Error(`${what} (${pathFromSrc}) is not built; run \`npm run build\``);
}
