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

/** Columns of nanosecond times (decimal strings in the rows), and arrays of them. */
const TIME_COLUMNS = ['Timestamp', 'StartTimeUnix', 'TimeUnix'];
const TIME_ARRAY_COLUMNS = ['Events.Timestamp', 'Exemplars.TimeUnix'];
const NANOS_PER_SECOND = 1_000_000_000n;

/**
 * Nanoseconds since the epoch as DateTime64(9) text in UTC. Text, because ClickHouse reads a bare
 * number in a DateTime64 column by guessing (a short one, such as a click dated at the epoch, is
 * refused or read as a date); the insert runs with `session_timezone = UTC` to read it back exactly.
 */
export function dateTime64(nanos: string): string {
  const n = BigInt(nanos);
  const seconds = n / NANOS_PER_SECOND;
  const fraction = (n % NANOS_PER_SECOND).toString().padStart(9, '0');
  return `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19).replace('T', ' ')}.${fraction}`;
}

/** A row as the writer inserts it: its nanosecond times as DateTime64 text. */
export function withDateTimes(row: object): object {
  const out: Record<string, unknown> = { ...(row as Record<string, unknown>) };
  for (const column of TIME_COLUMNS) if (typeof out[column] === 'string') out[column] = dateTime64(out[column]);
  for (const column of TIME_ARRAY_COLUMNS) if (Array.isArray(out[column])) out[column] = (out[column] as string[]).map(dateTime64);
  return out;
}

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
    await this.client.insert({
      table: `${quoteIdentifier(this.database)}.${table}`,
      values: values.map(withDateTimes),
      format: 'JSONEachRow',
      clickhouse_settings: { session_timezone: 'UTC' },
    });
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
