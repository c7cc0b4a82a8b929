/** Client spans for the recommendation service's downstream calls: database and cache. */
import { SpanKind, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';

/**
 * Runs `fn` inside a leaf span (one with no children: it is not made the active span, which
 * saves a context switch per call), recording an exception and error status if it throws.
 */
export function inSpan<T>(tracer: Tracer, name: string, options: { kind?: SpanKind; attributes?: Record<string, string | number | boolean> }, fn: (span: Span) => T): T {
  const span = tracer.startSpan(name, options);
  try {
    return fn(span);
  } catch (error) {
    failSpan(span, error);
    throw error;
  } finally {
    span.end();
  }
}

export function failSpan(span: Span, error: unknown): void {
  const exception = error instanceof Error ? error : new Error(String(error));
  span.recordException(exception);
  span.setStatus({ code: SpanStatusCode.ERROR, message: exception.message });
}

/**
 * A database query as a CLIENT span with the database semantic conventions
 * (`db.system.name`, `db.operation.name`, `db.collection.name`, `db.query.summary`).
 */
export function dbQuery<T>(tracer: Tracer, operation: string, collection: string, summary: string, fn: () => T): T {
  return inSpan(
    tracer,
    `${operation} ${collection}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'db.system.name': 'sqlite',
        'db.namespace': 'content',
        'db.operation.name': operation,
        'db.collection.name': collection,
        'db.query.summary': summary,
      },
    },
    () => fn(),
  );
}
