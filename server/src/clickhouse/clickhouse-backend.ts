/**
 * What the server runs on ClickHouse, from its settings: the analysis source
 * (`ANALYSIS_BACKEND=clickhouse`) and, for `CLICKHOUSE_URL=chdb:<folder>`, the endpoint's own
 * writer of the exporter's tables (with a server URL, a Collector writes them).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { ClickHouseAnalysisSource } from '../analysis/clickhouse/clickhouse-analysis-source.js';
import { ClickHouseTraceSource } from '../analysis/clickhouse/clickhouse-trace-source.js';
import type { MetricPointRecord, SpanRecord } from '../core/telemetry-records.js';
import type { AcceptedBatchSink } from '../routes/otlp-routes.js';
import type { RecordSink } from '../telemetry/store-exporters.js';
import { chdbFolder, openClickHouse, type ClickHouseConfig } from './clickhouse-connection.js';
import { ClickHouseWriter } from './clickhouse-writer.js';

export class ClickHouseBackend {
  readonly client: ClickHouseClient;
  /** Set in `chdb:` mode: the endpoint writes the exporter's tables itself. */
  readonly writer: ClickHouseWriter | undefined;
  private closed = false;

  private constructor(private readonly config: ClickHouseConfig) {
    this.client = openClickHouse(config);
    this.writer = chdbFolder(config.url) === undefined ? undefined : new ClickHouseWriter(this.client, config.database);
  }

  /** Opens the connection; in `chdb:` mode creates the exporter's tables when missing. */
  static async open(config: ClickHouseConfig): Promise<ClickHouseBackend> {
    const backend = new ClickHouseBackend(config);
    try {
      await backend.writer?.ensureSchema();
    } catch (error) {
      await backend.close();
      throw error;
    }
    return backend;
  }

  /** The analysis source over the exporter's tables; it shares this connection. */
  analysisSource(requestService: string, experimentKeys: readonly string[]): ClickHouseAnalysisSource {
    return new ClickHouseAnalysisSource(this.client, { database: this.config.database, requestService, experimentKeys }, false);
  }

  /** The trace view's source over the exporter's `otel_traces`; it shares this connection. */
  traceSource(): ClickHouseTraceSource {
    return new ClickHouseTraceSource(this.client, this.config.database);
  }

  /** Where the routes hand accepted, source-marked batches (only in `chdb:` mode). */
  acceptedSink(): AcceptedBatchSink | undefined {
    const writer = this.writer;
    if (writer === undefined) return undefined;
    return {
      async accept(signal, otlpJson) {
        const request: unknown = JSON.parse(otlpJson);
        if (signal === 'traces') await writer.writeTraces(request);
        else await writer.writeMetrics(request);
      },
    };
  }

  /** `sink` and, in `chdb:` mode, the exporter's tables too: where the server's own telemetry goes. */
  withRecords(sink: RecordSink): RecordSink {
    const writer = this.writer;
    if (writer === undefined) return sink;
    return {
      submit: (spans: readonly SpanRecord[], points: readonly MetricPointRecord[]) => Promise.all([sink.submit(spans, points), writer.writeRecords(spans, points)]),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.close();
  }
}
