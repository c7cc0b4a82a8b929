/**
 * The collector's store runs on `better-sqlite3`, a native module and an optional
 * dependency: a team that installs the package for `variant-lens/node` alone
 * (`--omit=optional`) downloads and builds nothing native. The commands that need the store
 * check for it first and say what to do, instead of failing on an import deep inside.
 */

/** The driver's pinned version, as in package.json's `optionalDependencies`. */
const DRIVER = 'better-sqlite3@12.9.0';

/** What is wrong with the SQLite driver, or undefined when it loads and opens a database. */
export async function sqliteDriverProblem(): Promise<{ readonly missing: boolean; readonly message: string } | undefined> {
  let Database: typeof import('better-sqlite3');
  try {
    Database = (await import('better-sqlite3')).default;
  } catch (error) {
    return { missing: true, message: (error as Error).message.split('\n')[0]! };
  }
  try {
    new Database(':memory:').close();
    return undefined;
  } catch (error) {
    return { missing: false, message: (error as Error).message.split('\n')[0]! };
  }
}

/** The message for `variant-lens <command>` when the driver is missing or not built. */
export function sqliteDriverHelp(command: string, problem: { readonly missing: boolean; readonly message: string }): string {
  const what = problem.missing ? 'is not installed' : 'is installed but its native module does not load';
  return `variant-lens ${command}: the SQLite store needs ${DRIVER}, an optional dependency that ${what} here (${problem.message}).
Install it beside variant-lens with \`npm install ${DRIVER}\` (npm downloads a prebuilt binary for common platforms, or builds one: that needs python3, make and a C++ compiler).
If npm held back its install script (\`npm warn install-scripts\`): \`npm install-scripts approve better-sqlite3 && npm rebuild better-sqlite3\`.${
    problem.missing ? '' : '\nWithout a store, STORE=none runs a stateless forwarding endpoint (OTLP_FORWARD_URL).'
  }`;
}
