/**
 * The analysis worker thread (see `AnalysisThread`): reads the SQLite store's analysis tables
 * through its own read-only connection and computes results, one request at a time, off the
 * main thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteAnalysisSource } from '../analysis/sqlite-analysis-source.js';
import { AnalysisRequestError, AnalysisService } from './analysis-service.js';
import type { AnalysisWorkerData, AnalysisWorkerReply, AnalysisWorkerRequest } from './analysis-thread.js';

const data = workerData as AnalysisWorkerData;
const analysis = new AnalysisService(new SqliteAnalysisSource(data.path), data.experiments);

parentPort!.on('message', (message: AnalysisWorkerRequest) => {
  const reply = (answer: AnalysisWorkerReply) => parentPort!.postMessage(answer);
  const experiment = analysis.experiment(message.key);
  if (experiment === undefined) {
    reply({ id: message.id, error: `no experiment with key ${message.key}`, badRequest: true });
    return;
  }
  analysis.results(experiment, message.request).then(
    (results) => reply({ id: message.id, results }),
    (error: unknown) => reply({ id: message.id, error: error instanceof Error ? error.message : String(error), badRequest: error instanceof AnalysisRequestError }),
  );
});
