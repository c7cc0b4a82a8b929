// Fails the build when the script-tag SDK grows past its budget: 30,000 bytes,
// gzip -9 of dist/sdk/variant-lens.iife.js. Prints the figure either way.
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

/** The budget lives in package.json (`config.sdkSizeBudgetBytes`), where the SDK benchmark reads it too. */
const BUDGET_BYTES = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).config.sdkSizeBudgetBytes;
const file = new URL('../dist/sdk/variant-lens.iife.js', import.meta.url);
const bytes = gzipSync(readFileSync(file), { level: 9 }).length;
const verdict = bytes <= BUDGET_BYTES ? 'within' : 'OVER';
console.log(`SDK script tag: ${bytes} bytes gzip (${(bytes / 1024).toFixed(2)} KiB), ${verdict} the budget of ${BUDGET_BYTES} bytes`);
if (bytes > BUDGET_BYTES) process.exit(1);
