/**
 * The browser bundle's stand-in for `@opentelemetry/api-logs` (aliased in vite.config.ts).
 * Only `@opentelemetry/instrumentation` imports it, to give every instrumentation a logger;
 * the SDK emits no log records, so a no-op logger is all it needs, and the real global
 * logs API (1.2 KB minified) stays out of the script tag's 40 KB.
 */
const noopLogger = { emit(): void {}, enabled: (): boolean => false };
const noopProvider = { getLogger: () => noopLogger };

export const logs = {
  getLogger: () => noopLogger,
  getLoggerProvider: () => noopProvider,
  setGlobalLoggerProvider: () => noopProvider,
  disable: (): void => {},
};

/** Imported by the OTLP transformer's logs serializer, which the SDK never calls. */
export const SeverityNumber: Readonly<Record<string, number>> = {};
