/**
 * OTLP/HTTP protobuf bodies: decoded with protobufjs into the same plain shape the OTLP/JSON
 * decoder reads (ids stay bytes, 64-bit integers become strings), and responses encoded.
 * The descriptor below declares, by field number, the parts of the public
 * opentelemetry-proto schema (collector/trace, collector/metrics, trace, metrics, common,
 * resource v1) that variant-lens reads; fields it does not declare are skipped on decode.
 */
import protobuf from 'protobufjs';

const KEY_VALUES = { rule: 'repeated', type: 'KeyValue' } as const;

const descriptor = {
  nested: {
    otlp: {
      nested: {
        AnyValue: {
          oneofs: { value: { oneof: ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue'] } },
          fields: {
            stringValue: { type: 'string', id: 1 },
            boolValue: { type: 'bool', id: 2 },
            intValue: { type: 'int64', id: 3 },
            doubleValue: { type: 'double', id: 4 },
            arrayValue: { type: 'ArrayValue', id: 5 },
            kvlistValue: { type: 'KeyValueList', id: 6 },
            bytesValue: { type: 'bytes', id: 7 },
          },
        },
        ArrayValue: { fields: { values: { rule: 'repeated', type: 'AnyValue', id: 1 } } },
        KeyValueList: { fields: { values: { ...KEY_VALUES, id: 1 } } },
        KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
        InstrumentationScope: {
          fields: { name: { type: 'string', id: 1 }, version: { type: 'string', id: 2 }, attributes: { ...KEY_VALUES, id: 3 } },
        },
        Resource: { fields: { attributes: { ...KEY_VALUES, id: 1 } } },
        ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
        ResourceSpans: {
          fields: { resource: { type: 'Resource', id: 1 }, scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 } },
        },
        ScopeSpans: {
          fields: { scope: { type: 'InstrumentationScope', id: 1 }, spans: { rule: 'repeated', type: 'Span', id: 2 } },
        },
        Span: {
          fields: {
            traceId: { type: 'bytes', id: 1 },
            spanId: { type: 'bytes', id: 2 },
            traceState: { type: 'string', id: 3 },
            parentSpanId: { type: 'bytes', id: 4 },
            name: { type: 'string', id: 5 },
            kind: { type: 'int32', id: 6 },
            startTimeUnixNano: { type: 'fixed64', id: 7 },
            endTimeUnixNano: { type: 'fixed64', id: 8 },
            attributes: { ...KEY_VALUES, id: 9 },
            events: { rule: 'repeated', type: 'SpanEvent', id: 11 },
            links: { rule: 'repeated', type: 'SpanLink', id: 13 },
            status: { type: 'Status', id: 15 },
            flags: { type: 'fixed32', id: 16 },
          },
        },
        SpanEvent: {
          fields: { timeUnixNano: { type: 'fixed64', id: 1 }, name: { type: 'string', id: 2 }, attributes: { ...KEY_VALUES, id: 3 } },
        },
        SpanLink: {
          fields: { traceId: { type: 'bytes', id: 1 }, spanId: { type: 'bytes', id: 2 }, attributes: { ...KEY_VALUES, id: 4 } },
        },
        Status: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
        ExportTraceServiceResponse: { fields: { partialSuccess: { type: 'ExportTracePartialSuccess', id: 1 } } },
        ExportTracePartialSuccess: { fields: { rejectedSpans: { type: 'int64', id: 1 }, errorMessage: { type: 'string', id: 2 } } },
        ExportMetricsServiceRequest: { fields: { resourceMetrics: { rule: 'repeated', type: 'ResourceMetrics', id: 1 } } },
        ResourceMetrics: {
          fields: { resource: { type: 'Resource', id: 1 }, scopeMetrics: { rule: 'repeated', type: 'ScopeMetrics', id: 2 } },
        },
        ScopeMetrics: {
          fields: { scope: { type: 'InstrumentationScope', id: 1 }, metrics: { rule: 'repeated', type: 'Metric', id: 2 } },
        },
        Metric: {
          oneofs: { data: { oneof: ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'] } },
          fields: {
            name: { type: 'string', id: 1 },
            description: { type: 'string', id: 2 },
            unit: { type: 'string', id: 3 },
            gauge: { type: 'Gauge', id: 5 },
            sum: { type: 'Sum', id: 7 },
            histogram: { type: 'Histogram', id: 9 },
            // Declared only so their presence is seen and the metric rejected as unsupported.
            exponentialHistogram: { type: 'Opaque', id: 10 },
            summary: { type: 'Opaque', id: 11 },
          },
        },
        Opaque: { fields: {} },
        Gauge: { fields: { dataPoints: { rule: 'repeated', type: 'NumberDataPoint', id: 1 } } },
        Sum: {
          fields: {
            dataPoints: { rule: 'repeated', type: 'NumberDataPoint', id: 1 },
            aggregationTemporality: { type: 'int32', id: 2 },
            isMonotonic: { type: 'bool', id: 3 },
          },
        },
        Histogram: {
          fields: {
            dataPoints: { rule: 'repeated', type: 'HistogramDataPoint', id: 1 },
            aggregationTemporality: { type: 'int32', id: 2 },
          },
        },
        NumberDataPoint: {
          oneofs: { value: { oneof: ['asDouble', 'asInt'] } },
          fields: {
            startTimeUnixNano: { type: 'fixed64', id: 2 },
            timeUnixNano: { type: 'fixed64', id: 3 },
            asDouble: { type: 'double', id: 4 },
            asInt: { type: 'sfixed64', id: 6 },
            attributes: { ...KEY_VALUES, id: 7 },
          },
        },
        HistogramDataPoint: {
          fields: {
            startTimeUnixNano: { type: 'fixed64', id: 2 },
            timeUnixNano: { type: 'fixed64', id: 3 },
            count: { type: 'fixed64', id: 4 },
            sum: { type: 'double', id: 5 },
            bucketCounts: { rule: 'repeated', type: 'fixed64', id: 6 },
            explicitBounds: { rule: 'repeated', type: 'double', id: 7 },
            attributes: { ...KEY_VALUES, id: 9 },
            min: { type: 'double', id: 11 },
            max: { type: 'double', id: 12 },
          },
        },
        // google.rpc.Status without its details: the body of every OTLP/HTTP error response.
        RpcStatus: { fields: { code: { type: 'int32', id: 1 }, message: { type: 'string', id: 2 } } },
        ExportMetricsServiceResponse: { fields: { partialSuccess: { type: 'ExportMetricsPartialSuccess', id: 1 } } },
        ExportMetricsPartialSuccess: {
          fields: { rejectedDataPoints: { type: 'int64', id: 1 }, errorMessage: { type: 'string', id: 2 } },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(descriptor);
const types = {
  traceRequest: root.lookupType('otlp.ExportTraceServiceRequest'),
  traceResponse: root.lookupType('otlp.ExportTraceServiceResponse'),
  metricsRequest: root.lookupType('otlp.ExportMetricsServiceRequest'),
  metricsResponse: root.lookupType('otlp.ExportMetricsServiceResponse'),
  status: root.lookupType('otlp.RpcStatus'),
};

/** Plain objects: 64-bit integers as decimal strings, ids left as bytes, only fields that were set. */
const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number, defaults: false, arrays: true };

/** Thrown for bytes that are not a valid message (answered with 400). */
export class MalformedProtobufError extends Error {}

function decode(type: protobuf.Type, body: Uint8Array): unknown {
  try {
    return type.toObject(type.decode(body), TO_OBJECT);
  } catch (error) {
    throw new MalformedProtobufError((error as Error).message);
  }
}

export function decodeTraceProtobuf(body: Uint8Array): unknown {
  return decode(types.traceRequest, body);
}

export function decodeMetricsProtobuf(body: Uint8Array): unknown {
  return decode(types.metricsRequest, body);
}

/** An `ExportTraceServiceResponse` or `ExportMetricsServiceResponse` as protobuf bytes. */
export function encodeExportResponse(signal: 'traces' | 'metrics', response: object): Uint8Array {
  const type = signal === 'traces' ? types.traceResponse : types.metricsResponse;
  return type.encode(type.fromObject(response)).finish();
}

/** The `Status` of an OTLP/HTTP error response as protobuf bytes (the code is optional there, and left out). */
export function encodeStatus(message: string): Uint8Array {
  return types.status.encode(types.status.fromObject({ message })).finish();
}

/** A protobuf `Status` back to its message (for clients and tests). */
export function decodeStatus(body: Uint8Array): { message: string } {
  return types.status.toObject(types.status.decode(body), { defaults: true }) as { message: string };
}

const HEX_ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

/** Turns OTLP/JSON hex ids into bytes, leaving everything else as it is. */
function idsToBytes(value: unknown, key = ''): unknown {
  if (typeof value === 'string' && HEX_ID_FIELDS.has(key)) return Buffer.from(value, 'hex');
  if (Array.isArray(value)) return value.map((item) => idsToBytes(item));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, idsToBytes(v, k)]));
  }
  return value;
}

/**
 * Encodes an `ExportTraceServiceRequest` given in the OTLP/JSON shape (hex ids) as protobuf:
 * what the simulator and the benchmarks send to exercise the protobuf path.
 */
export function encodeTraceProtobuf(request: object): Uint8Array {
  return types.traceRequest.encode(types.traceRequest.fromObject(idsToBytes(request) as object)).finish();
}
