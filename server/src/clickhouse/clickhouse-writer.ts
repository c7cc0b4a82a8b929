/**
 * Writes accepted telemetry into the exporter's tables, as the Collector's ClickHouse exporter
 * would: the endpoint's own writer in `CLICKHOUSE_URL=chdb:` mode (no Collector in between).
 * It receives exactly what a Collector would be forwarded — accepted items only, marked with
 * their source — so both deployments hold the same rows.
 */
import type { ClickHouseClient } from '@clickhouse/client';
import { encodeMetricsRequest, encodeTraceRequest } from '../core/otlp-encode.js';
import type { MetricPointRecord, SpanRecord } from '../core/telemetry-records.js';
import { EXPORTER_TABLES, exporterDdl, quoteIdentifier } from './exporter-schema.js';
import { metricRows, traceRows } from './exporter-rows.js';

export class ClickHouseWriter {
  private schema: Promise<void> | undefined;

  constructor(
    private readonly client: ClickHouseClient,
    private readonly database: string,
  ) {}

  /** Creates the database and the exporter's tables when missing (the exporter's `create_schema`). */
  ensureSchema(): Promise<void> {
    this.schema ??= (async () => {
      for (const statement of exporterDdl(this.database)) await this.client.command({ query: statement });
    })();
    return this.schema;
  }

  private async insert(table: string, values: readonly object[]): Promise<void> {
    if (values.length === 0) return;
    await this.client.insert({ table: `${quoteIdentifier(this.database)}.${table}`, values: values as object[], format: 'JSONEachRow' });
  }

  /** Writes an OTLP/JSON `ExportTraceServiceRequest`; resolves once ClickHouse has the rows. */
  async writeTraces(request: unknown): Promise<number> {
    await this.ensureSchema();
    const rows = traceRows(request);
    await this.insert(EXPORTER_TABLES.traces, rows);
    return rows.length;
  }

  /** Writes an OTLP/JSON `ExportMetricsServiceRequest`; resolves once ClickHouse has the rows. */
  async writeMetrics(request: unknown): Promise<number> {
    await this.ensureSchema();
    const rows = metricRows(request);
    await Promise.all([
      this.insert(EXPORTER_TABLES.gauge, rows.gauge),
      this.insert(EXPORTER_TABLES.sum, rows.sum),
      this.insert(EXPORTER_TABLES.histogram, rows.histogram),
    ]);
    return rows.gauge.length + rows.sum.length + rows.histogram.length;
  }

  /** Writes stored records (the server's own telemetry), encoded as the endpoint forwards them. */
  async writeRecords(spans: readonly SpanRecord[], points: readonly MetricPointRecord[]): Promise<void> {
    await Promise.all([spans.length > 0 ? this.writeTraces(encodeTraceRequest(spans)) : undefined, points.length > 0 ? this.writeMetrics(encodeMetricsRequest(points)) : undefined]);
  }
}
