#!/usr/bin/env node
/**
 * `npx variant-lens <command>`: the collector, the demo, the report and the simulator. The
 * package's entry point, above both the product and its demo (the only product file that
 * may name the demo).
 */
import { USAGE_EXIT_CODE } from './command-line.js';
import { sqliteDriverHelp, sqliteDriverProblem } from './sqlite-driver.js';

const USAGE = `Usage: variant-lens <command> [options]

Commands:
  collector   the collection endpoint (OTLP/HTTP), the store, the analysis API, the dashboard,
              the trace view and /sdk.js, for your own site and services: no demo
  demo        the collector with the demo: catalogue, feature store, recommendations, demo site
              (what npm start serves)
  report      one experiment's results as terminal tables, from the store under DATA_DIR
  simulate    synthetic visitors against a running demo (progress bar)

Run variant-lens <command> --help for a command's options.`;

/** Exit code when the SQLite driver, an optional dependency, is missing. */
const MISSING_DRIVER_EXIT_CODE = 1;

/**
 * The commands that open the store import it (and so `better-sqlite3`) only after checking
 * the driver: it is optional, and a missing one gets a message saying how to install it.
 * Only the stateless endpoint (STORE=none) runs with the driver present but not built.
 */
async function checkSqliteDriver(command: string): Promise<void> {
  const problem = await sqliteDriverProblem();
  if (problem === undefined || (!problem.missing && process.env.STORE === 'none' && command === 'collector')) return;
  console.error(sqliteDriverHelp(command, problem));
  process.exit(MISSING_DRIVER_EXIT_CODE);
}

const SERVE_USAGE = (command: 'collector' | 'demo', ENVIRONMENT_HELP: string) => `Usage: variant-lens ${command}

${
  command === 'collector'
    ? `Serves the collection endpoint, the store, the analysis API, the dashboard and /sdk.js for your
own site and services (no catalogue, feature store or demo site). EXPERIMENTS_FILE is required.`
    : 'Serves the collector with the demo: catalogue, feature store, recommendations and demo site.'
}

${ENVIRONMENT_HELP}`;

const [command, ...rest] = process.argv.slice(2);
const wantsHelp = rest.includes('--help') || rest.includes('-h');
switch (command) {
  case 'collector':
  case 'demo': {
    await checkSqliteDriver(command);
    const { ENVIRONMENT_HELP, serveCollector } = await import('./serve.js');
    if (wantsHelp) {
      console.log(SERVE_USAGE(command, ENVIRONMENT_HELP));
      break;
    }
    if (rest.length > 0) {
      console.error(`variant-lens ${command}: unexpected argument ${rest[0]}; it is configured by environment variables\n\n${SERVE_USAGE(command, ENVIRONMENT_HELP)}`);
      process.exit(USAGE_EXIT_CODE);
    }
    // The demo is imported only when asked for, and only after the driver check (it opens stores).
    await (command === 'collector' ? serveCollector() : (await import('../demo/index.js')).serveDemo());
    break;
  }
  case 'report':
    await checkSqliteDriver(command);
    process.argv.splice(2, 1);
    await import('./report.js');
    break;
  case 'simulate':
    // Runs on import and reads its own options from argv, without the command (as report does).
    process.argv.splice(2, 1);
    await import('./simulate.js');
    break;
  case undefined:
  case '--help':
  case '-h':
  case 'help':
    console.log(USAGE);
    break;
  default:
    console.error(`variant-lens: unknown command ${command}\n\n${USAGE}`);
    process.exit(USAGE_EXIT_CODE);
}
