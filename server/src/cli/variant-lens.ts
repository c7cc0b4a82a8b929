#!/usr/bin/env node
/**
 * `npx variant-lens <command>`: the collector, the demo, the report and the simulator. The
 * package's entry point, above both the product and its demo (the only product file that
 * may name the demo).
 */
import { serveDemo } from '../demo/index.js';
import { ENVIRONMENT_HELP, serveCollector } from './serve.js';
import { USAGE_EXIT_CODE } from './command-line.js';

const USAGE = `Usage: variant-lens <command> [options]

Commands:
  collector   the collection endpoint (OTLP/HTTP), the store, the analysis API, the dashboard,
              the trace view and /sdk.js, for your own site and services: no demo
  demo        the collector with the demo: catalogue, feature store, recommendations, demo site
              (what npm start serves)
  report      one experiment's results as terminal tables, from the store under DATA_DIR
  simulate    synthetic visitors against a running demo (progress bar)

Run variant-lens <command> --help for a command's options.`;

const SERVE_USAGE = (command: 'collector' | 'demo') => `Usage: variant-lens ${command}

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
  case 'demo':
    if (wantsHelp) {
      console.log(SERVE_USAGE(command));
      break;
    }
    if (rest.length > 0) {
      console.error(`variant-lens ${command}: unexpected argument ${rest[0]}; it is configured by environment variables\n\n${SERVE_USAGE(command)}`);
      process.exit(USAGE_EXIT_CODE);
    }
    await (command === 'collector' ? serveCollector() : serveDemo());
    break;
  case 'report':
  case 'simulate':
    // Each runs on import and reads its own options from argv, without the command.
    process.argv.splice(2, 1);
    await import(command === 'report' ? './report.js' : './simulate.js');
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
