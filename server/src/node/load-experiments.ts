import { readFileSync } from 'node:fs';
import { parseExperimentsFile } from '../core/experiment-config.js';
import { ExperimentService } from '../services/experiment-service.js';
import type { Experiments } from './types.js';

/**
 * Reads and validates an experiments file (the format of `config/experiments.json`), or
 * validates one already parsed. A bad file throws an error naming the experiment and field.
 */
export function loadExperiments(source: string | object): Experiments {
  let raw: unknown = source;
  if (typeof source === 'string') {
    try {
      raw = JSON.parse(readFileSync(source, 'utf8'));
    } catch (error) {
      throw new Error(`Configuration: experiments file ${source} could not be read as JSON: ${(error as Error).message}`);
    }
  }
  return new ExperimentService(parseExperimentsFile(raw, typeof source === 'string' ? source : 'experiments'));
}
