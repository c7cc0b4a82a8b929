/** `npm run bench`: every benchmark, or those named as arguments (e.g. `npm run bench -- ingest`, `npm run bench -- power`). */
import { runAnalysisBench } from './analysis-bench.js';
import { runExpressBench } from './express-bench.js';
import { runClickHouseBench } from './clickhouse-bench.js';
import { runFreshnessBench } from './freshness-bench.js';
import { runPowerBench } from './power-bench.js';
import { runIngestBench } from './ingest-bench.js';
import { runRecommendationsBench } from './recommendations-bench.js';
import { runRecommendationsCpuBench } from './recommendations-cpu-bench.js';
import { runSdkBench } from './sdk-bench.js';

const BENCHES: Record<string, () => Promise<unknown>> = {
  ingest: runIngestBench,
  analysis: runAnalysisBench,
  sdk: runSdkBench,
  recommendations: runRecommendationsBench,
  'recommendations-cpu': runRecommendationsCpuBench,
  freshness: runFreshnessBench,
  power: runPowerBench,
  express: runExpressBench,
  clickhouse: runClickHouseBench,
};

const selected = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const name of selected.length > 0 ? selected : Object.keys(BENCHES)) {
  const bench = BENCHES[name];
  if (bench === undefined) {
    console.error(`unknown benchmark ${name}; choose from ${Object.keys(BENCHES).join(', ')}`);
    process.exit(2);
  }
  await bench();
}
