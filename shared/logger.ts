/**
 * Structured JSON logs (pino): service name on every line, and the active span's trace_id and
 * span_id, so a log line leads to its trace.
 */
import { pino, type Logger as PinoLogger } from "pino";
import { trace } from "@opentelemetry/api";

export type Logger = PinoLogger;

/** A logger for one service; `level` follows LOG_LEVEL (default info). */
export function createLogger(service: string, level = "info"): Logger {
  return pino({
    level,
    base: { service },
    messageKey: "msg",
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin() {
      const span = trace.getActiveSpan()?.spanContext();
      return span ? { trace_id: span.traceId, span_id: span.spanId } : {};
    },
    redact: { paths: ["password", "*.password", "token", "*.token", "authorization", "*.authorization"], remove: true },
  });
}
