/**
 * OpenTelemetry SDK bootstrap for a service process (entry files only; the rest of the code uses
 * @opentelemetry/api). Configured by the standard OTEL_* variables:
 * - traces go as OTLP/HTTP JSON to `<OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces` (or
 *   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) through a batch span processor (OTEL_BSP_* apply);
 * - `OTEL_TRACES_EXPORTER=none` exports nothing, but spans still get ids, so traceparent headers,
 *   the traceId answered by POST /orders and trace_id in logs keep working;
 * - metrics and logs are not exported unless OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER ask for it
 *   (Prometheus scrapes /metrics instead);
 * - `OTEL_SDK_DISABLED=true` turns it all off.
 */
import { NodeSDK } from "@opentelemetry/sdk-node";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { BatchSpanProcessor, NoopSpanProcessor } from "@opentelemetry/sdk-trace";

export interface Tracing {
  /** Flushes pending spans and stops the SDK; call before the process exits. */
  shutdown(): Promise<void>;
}

type Env = Record<string, string | undefined>;

export function startTracing(defaultServiceName: string, env: Env): Tracing {
  const exporters = (env.OTEL_TRACES_EXPORTER ?? "otlp").split(",").map((s) => s.trim());
  const exporting = !exporters.includes("none");
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME || defaultServiceName,
    spanProcessors: [exporting ? batchProcessorFromEnv(env) : new NoopSpanProcessor()],
    ...(env.OTEL_METRICS_EXPORTER ? {} : { metricReaders: [] }),
    ...(env.OTEL_LOGS_EXPORTER ? {} : { logRecordProcessors: [] }),
    instrumentations: [],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}

/**
 * A BatchSpanProcessor given as `spanProcessors` no longer reads OTEL_BSP_* itself (sdk-trace 3 /
 * sdk-node 0.301 read them only for processors they create), so pass them on.
 */
function batchProcessorFromEnv(env: Env): BatchSpanProcessor {
  return new BatchSpanProcessor({
    exporter: new OTLPTraceExporter(),
    scheduledDelayMillis: positiveNumber(env.OTEL_BSP_SCHEDULE_DELAY),
    exportTimeoutMillis: positiveNumber(env.OTEL_BSP_EXPORT_TIMEOUT),
    maxQueueSize: positiveNumber(env.OTEL_BSP_MAX_QUEUE_SIZE),
    maxExportBatchSize: positiveNumber(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE),
  });
}

/** A positive number from an env value, or undefined (the SDK default) when unset or invalid. */
function positiveNumber(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}
