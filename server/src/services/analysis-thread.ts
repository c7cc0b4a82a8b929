/**
 * Experiment results computed on a worker thread of their own: the read of the analysis tables
 * and the statistics take hundreds of milliseconds on a large store, and on the main thread
 * they held up every other request (and the acknowledgements of ingest) for as long. The main
 * thread checks the request's parameters (a 400 at once), posts it, and sends the answer.
 * Identical requests in flight share one computation (a dashboard refreshing in several tabs);
 * beyond `MAX_PENDING` different ones the read side answers 503, so requests cannot pile up.
 */
import { Worker } from 'node:worker_threads';
import { compiledScript } from '../compiled-script.js';
import type { ExperimentResults } from '../core/experiment-analysis.js';
import type { ExperimentDefinition } from '../core/experiment-config.js';
import { AnalysisRequestError, analysisWindow, type AnalysisRequest, type ExperimentAnalysis } from './analysis-service.js';

/** Different results requests computed or waiting at once before the read side answers 503. */
export const MAX_PENDING = 16;

/** What the main thread sends the analysis worker. */
export interface AnalysisWorkerRequest {
  readonly id: number;
  readonly key: string;
  readonly request: AnalysisRequest;
}

/** What the analysis worker answers: the results, or why not (`badRequest`: the parameters). */
export type AnalysisWorkerReply =
  | { readonly id: number; readonly results: ExperimentResults }
  | { readonly id: number; readonly error: string; readonly badRequest: boolean };

/** Given to the analysis worker at its start. */
export interface AnalysisWorkerData {
  readonly path: string;
  readonly experiments: readonly ExperimentDefinition[];
}

/** Too many different results requests at once: answered with 503 and Retry-After. */
export class AnalysisBusyError extends Error {}

interface Pending {
  readonly promise: Promise<ExperimentResults>;
  resolve(results: ExperimentResults): void;
  reject(error: Error): void;
}

/** The analysis of the SQLite store at `path`, on a worker thread. */
export class AnalysisThread implements ExperimentAnalysis {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  /** Request key (experiment, window, cohort) → its id in `pending`: identical requests share it. */
  private readonly byRequest = new Map<string, number>();
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly experiments: readonly ExperimentDefinition[],
  ) {}

  experiment(key: string): ExperimentDefinition | undefined {
    return this.experiments.find((e) => e.key === key);
  }

  results(experiment: ExperimentDefinition, request: AnalysisRequest = {}): Promise<ExperimentResults> {
    try {
      analysisWindow(request);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (this.closed) return Promise.reject(new Error('the analysis is closed'));
    const requestKey = JSON.stringify([experiment.key, request.from ?? '', request.to ?? '', request.cohort ?? '']);
    const shared = this.byRequest.get(requestKey);
    if (shared !== undefined) return this.pending.get(shared)!.promise;
    if (this.pending.size >= MAX_PENDING) return Promise.reject(new AnalysisBusyError(`${this.pending.size} results are being computed; try again shortly`));
    const id = this.nextId++;
    let settle!: Pick<Pending, 'resolve' | 'reject'>;
    const promise = new Promise<ExperimentResults>((resolve, reject) => (settle = { resolve, reject }));
    this.pending.set(id, { promise, ...settle });
    this.byRequest.set(requestKey, id);
    void promise.then(
      () => this.forget(id, requestKey),
      () => this.forget(id, requestKey),
    );
    this.started().postMessage({ id, key: experiment.key, request: { from: request.from, to: request.to, cohort: request.cohort } } satisfies AnalysisWorkerRequest);
    return promise;
  }

  private forget(id: number, requestKey: string): void {
    this.pending.delete(id);
    if (this.byRequest.get(requestKey) === id) this.byRequest.delete(requestKey);
  }

  /** The worker, started on first use and again after one failed. */
  private started(): Worker {
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(compiledScript('services/analysis-worker.js', 'the analysis worker'), {
      workerData: { path: this.path, experiments: this.experiments } satisfies AnalysisWorkerData,
    });
    worker.on('message', (reply: AnalysisWorkerReply) => {
      const pending = this.pending.get(reply.id);
      if (pending === undefined) return;
      if ('results' in reply) pending.resolve(reply.results);
      else pending.reject(reply.badRequest ? new AnalysisRequestError(reply.error) : new Error(reply.error));
    });
    const failed = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const pending of this.pending.values()) pending.reject(error);
    };
    worker.on('error', failed);
    worker.on('exit', (code) => failed(new Error(`the analysis worker exited with code ${code}`)));
    // Idle, it must not keep the process alive.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    for (const pending of this.pending.values()) pending.reject(new Error('the analysis is closed'));
    await worker?.terminate();
  }
}
