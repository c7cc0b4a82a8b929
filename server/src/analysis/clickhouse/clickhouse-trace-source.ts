/**
 * Traces from the exporter's `otel_traces`, for the trace view with `ANALYSIS_BACKEND=clickhouse`.
 * The exporter's lookup table `otel_traces_trace_id_ts` (min and max time of each trace, kept by
 * its own view) bounds the read to the trace's time range, so the sort key prunes the parts. Spans
 * come back in the shape the SQLite store gives them, with one difference the exporter makes:
 * attribute values are strings (it stores attributes as `Map(String, String)`).
 */
import type { ClickHouseClient } from '@clickhouse/client';
import type { StoredSpan } from '../../../../common/src/wire-types.js';
import { EXPORTER_TABLES, quoteIdentifier } from '../../clickhouse/exporter-schema.js';
import { SPAN_KINDS, STATUS_CODES } from '../../clickhouse/exporter-rows.js';
import type { TraceRead, TraceSource } from '../trace-source.js';
import { nanosToMs, TRUSTED } from './analysis-tables.js';

interface TraceRow {
  TraceId: string;
  SpanId: string;
  ParentSpanId: string;
  SpanName: string;
  SpanKind: string;
  ServiceName: string;
  start: string;
  end: string;
  durationMs: number;
  StatusCode: string;
  StatusMessage: string;
  SpanAttributes: Record<string, string>;
  eventNames: string[];
  eventTimes: string[];
  eventAttributes: Record<string, string>[];
  linkTraceIds: string[];
  linkSpanIds: string[];
  linkAttributes: Record<string, string>[];
  trusted: number;
}

const START_NS = 'toUnixTimestamp64Nano(Timestamp)';
const END_NS = `(${START_NS} + toInt64(Duration))`;

export class ClickHouseTraceSource implements TraceSource {
  private readonly db: string;

  constructor(
    private readonly client: ClickHouseClient,
    database: string,
  ) {
    this.db = quoteIdentifier(database);
  }

  async trace(traceId: string, limit: number): Promise<TraceRead | undefined> {
    const t = EXPORTER_TABLES;
    const bounds = `WITH (SELECT (min(Start), max(End)) FROM ${this.db}.${t.traceIdTs} WHERE TraceId = {traceId:String}) AS bounds`;
    const inTrace = `TraceId = {traceId:String} AND toDateTime(Timestamp) >= bounds.1 AND toDateTime(Timestamp) <= bounds.2`;
    const counted = await this.client.query({
      query: `${bounds} SELECT uniqExact(SpanId) AS count FROM ${this.db}.${t.traces} WHERE ${inTrace}`,
      query_params: { traceId },
      format: 'JSONEachRow',
    });
    const count = Number((await counted.json<{ count: string }>())[0]?.count ?? 0);
    if (count === 0) return undefined;
    const result = await this.client.query({
      // Once per span id (an exporter's retry can write a span twice), as the SQLite store keeps it.
      query: `${bounds}
        SELECT TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName, toString(${START_NS}) AS start, toString(${END_NS}) AS end,
               ${nanosToMs(END_NS)} - ${nanosToMs(START_NS)} AS durationMs, StatusCode, StatusMessage, SpanAttributes,
               Events.Name AS eventNames, arrayMap(x -> toString(toUnixTimestamp64Nano(x)), Events.Timestamp) AS eventTimes, Events.Attributes AS eventAttributes,
               Links.TraceId AS linkTraceIds, Links.SpanId AS linkSpanIds, Links.Attributes AS linkAttributes,
               ${TRUSTED} AS trusted
        FROM ${this.db}.${t.traces}
        WHERE ${inTrace}
        ORDER BY Timestamp, SpanId
        LIMIT 1 BY SpanId
        LIMIT {limit:UInt32}`,
      query_params: { traceId, limit },
      format: 'JSONEachRow',
    });
    const spans = (await result.json<TraceRow>()).map(toStoredSpan);
    return {
      count,
      async *chunks(size: number) {
        for (let i = 0; i < spans.length; i += size) yield spans.slice(i, i + size);
      },
    };
  }
}

function toStoredSpan(row: TraceRow): StoredSpan {
  return {
    traceId: row.TraceId,
    spanId: row.SpanId,
    parentSpanId: row.ParentSpanId === '' ? null : row.ParentSpanId,
    name: row.SpanName,
    kind: Math.max(0, SPAN_KINDS.indexOf(row.SpanKind)),
    service: row.ServiceName,
    startTimeUnixNano: row.start,
    endTimeUnixNano: row.end,
    durationMs: row.durationMs,
    status: { code: Math.max(0, STATUS_CODES.indexOf(row.StatusCode)), message: row.StatusMessage },
    attributes: row.SpanAttributes,
    events: row.eventNames.map((name, i) => ({ name, timeUnixNano: row.eventTimes[i], attributes: row.eventAttributes[i] })),
    links: row.linkTraceIds.map((traceId, i) => ({ traceId, spanId: row.linkSpanIds[i], attributes: row.linkAttributes[i] })),
    trusted: Number(row.trusted) === 1,
  };
}
