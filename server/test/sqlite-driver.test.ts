/**
 * better-sqlite3 is an optional dependency (a team installing for `variant-lens/node` alone
 * builds nothing native): the commands that need the store say how to install it. The
 * driver is hidden from a real `variant-lens` process by a module-resolution hook.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../dist/server/src/cli/variant-lens.js');

/** A `--import` module that makes `better-sqlite3` unresolvable, as after `npm install --omit=optional`. */
function withoutDriver(): string {
  const dir = tempDir('no-sqlite');
  const hooks = join(dir, 'hooks.mjs');
  writeFileSync(
    hooks,
    `export async function resolve(specifier, context, next) {
  if (specifier === 'better-sqlite3') throw Object.assign(new Error("Cannot find package 'better-sqlite3'"), { code: 'ERR_MODULE_NOT_FOUND' });
  return next(specifier, context);
}\n`,
  );
  const register = join(dir, 'register.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);
  return register;
}

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', withoutDriver(), CLI, ...args], { env: { ...process.env, PORT: '0', ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('without the optional SQLite driver', () => {
  it.each([['collector'], ['demo'], ['report']])('variant-lens %s exits with a message that says how to install it', async (command) => {
    const { code, stderr } = await cli([command]);
    expect(code).toBe(1);
    expect(stderr).toContain(`variant-lens ${command}: the SQLite store needs better-sqlite3@12.9.0`);
    expect(stderr).toContain('npm install better-sqlite3@12.9.0');
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('still answers the commands that need no store', async () => {
    const { code, stdout } = await cli(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: variant-lens <command>');
  });
});
