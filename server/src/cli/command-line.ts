/** Command-line parsing shared by the CLIs: `--help`, and a clear answer to a command line that cannot be used. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Exit code for a command line that cannot be used, as shells and getopt-style tools use it. */
export const USAGE_EXIT_CODE = 2;

/**
 * `parseArgs(config)` for the CLI `name`. `--help` or `-h` (before any `--`) prints `usage`
 * and exits 0; an unknown option, a missing value or a stray argument prints the problem in
 * one line, then `usage`, to stderr and exits with `USAGE_EXIT_CODE` — never a stack.
 */
export function parseCommandLine<T extends ParseArgsConfig>(name: string, usage: string, config: T): ReturnType<typeof parseArgs<T>> {
  const args = config.args ?? process.argv.slice(2);
  const end = args.indexOf('--');
  if ((end < 0 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h')) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  try {
    return parseArgs(config);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) throw error;
    process.stderr.write(`${name}: ${(error as Error).message.split('\n')[0]}\n\n${usage}\n`);
    process.exit(USAGE_EXIT_CODE);
  }
}
