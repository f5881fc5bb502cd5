/**
 * OpenTelemetry SDK bootstrap for a service process (entry files only; the rest of the code uses
 * @opentelemetry/api). Configured by the standard OTEL_* variables:
 * - traces go as OTLP/HTTP to `<OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces` (or
 *   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) through a batch span processor (OTEL_BSP_* apply), as JSON
 *   unless OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL is `http/protobuf`. JSON is the default here (the
 *   spec's is protobuf) because it costs the same CPU per span in the bench and anyone can read it;
 * - `OTEL_TRACES_EXPORTER=none` exports nothing, but spans still get ids, so traceparent headers,
 *   the traceId answered by POST /orders and trace_id in logs keep working. Unless
 *   OTEL_TRACES_SAMPLER names a standard sampler (the outcome policy has nothing to keep then), the
 *   sampler is then `parentbased_always_off`: a span that
 *   would go nowhere is not recorded (its attributes are not even built), and the traces this
 *   service starts are marked unsampled, so the services after it do not record them either;
 * - OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_NODE_RESOURCE_DETECTORS,
 *   OTEL_TRACES_SAMPLER(_ARG), OTEL_PROPAGATORS (tracecontext, baggage, none), OTEL_*_LIMIT span
 *   limits and OTEL_LOG_LEVEL as the NodeSDK reads them;
 * - metrics and logs are not exported unless OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER ask for it
 *   (Prometheus scrapes /metrics instead);
 * - `OTEL_SDK_DISABLED=true` turns it all off.
 *
 * The trace pipeline is assembled here from the pieces `@opentelemetry/sdk-node` wraps
 * (sdk-trace's TracerProvider, resources, the W3C propagators), because the NodeSDK statically loads every exporter (gRPC, protobuf, Zipkin,
 * Prometheus) and the metrics and logs SDKs: ≈ 13 MiB more per process, see BENCHMARKS.md,
 * "Settings decided by measurement". Only when a variable asks for something this path does not build
 * (metrics or logs export, the B3 propagators) is the NodeSDK loaded, on demand, as before.
 */
import { diag, DiagConsoleLogger, propagation, trace, type TextMapPropagator } from "@opentelemetry/api";
import {
  CompositePropagator,
  diagLogLevelFromString,
  getBooleanFromEnv,
  getNumberFromEnv,
  getStringFromEnv,
  getStringListFromEnv,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import {
  defaultResource,
  detectResources,
  envDetector,
  hostDetector,
  osDetector,
  processDetector,
  resourceFromAttributes,
  serviceInstanceIdDetector,
  type ResourceDetector,
} from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  NoopSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import { HoldingTracerProvider } from "./holding-tracer.ts";
import {
  activateOutcomeSampling,
  DEFAULT_HAPPY_RATIO,
  DEFAULT_HOLD_SPANS,
  OUTCOME_SAMPLER,
  OutcomeSampler,
  OutcomeSpanProcessor,
} from "./outcome-sampling.ts";

/** The SDK's attribute count per span when OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT is unset. */
const DEFAULT_ATTRIBUTE_COUNT_LIMIT = 128;

export interface Tracing {
  /** Flushes pending spans and stops the SDK; call before the process exits. */
  shutdown(): Promise<void>;
}

type Env = Record<string, string | undefined>;

/** Sets up tracing for a service from OTEL_* variables (see the file comment). */
export async function startTracing(defaultServiceName: string, env: Env): Promise<Tracing> {
  const serviceName = env.OTEL_SERVICE_NAME || defaultServiceName;
  if (needsNodeSdk(env)) return startNodeSdk(serviceName, env);

  // What NodeSDK's constructor and start() do for this configuration, in the same order.
  const logLevel = getStringFromEnv("OTEL_LOG_LEVEL");
  if (logLevel != null) diag.setLogger(new DiagConsoleLogger(), { logLevel: diagLogLevelFromString(logLevel) });
  if (getBooleanFromEnv("OTEL_SDK_DISABLED")) return { shutdown: async () => {} };

  // No context manager: the code passes trace contexts explicitly (Delivery.trace, requestTrace).
  // The AsyncLocalStorage one puts a hook on every promise on Node 20, 6–10 % of a service's CPU
  // in the benchmark (BENCHMARKS.md, "Settings decided by measurement"), for nothing the code needs.
  const propagator = propagatorFromEnv();
  if (propagator) propagation.setGlobalPropagator(propagator);

  const resource = defaultResource()
    .merge(detectResources({ detectors: resourceDetectorsFromEnv() }))
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }));
  const { processor: spanProcessor, outcome } = await spanProcessorFromEnv(env);
  activateOutcomeSampling(outcome);
  const spanLimits = spanLimitsFromEnv();
  const provider = new TracerProvider({
    resource,
    sampler: outcome
      ? new OutcomeSampler(outcome)
      : (samplerFromEnv() ?? (exportsNothing(env) ? new ParentBasedSampler({ root: new AlwaysOffSampler() }) : undefined)),
    spanLimits,
    spanProcessors: [spanProcessor],
  });
  trace.setGlobalTracerProvider(
    outcome
      ? new HoldingTracerProvider(provider, {
          resource,
          sink: outcome,
          limits: {
            attributeCountLimit: spanLimits.attributeCountLimit ?? DEFAULT_ATTRIBUTE_COUNT_LIMIT,
            attributeValueLengthLimit: spanLimits.attributeValueLengthLimit ?? Number.POSITIVE_INFINITY,
          },
        })
      : provider,
  );
  return { shutdown: () => provider.shutdown() };
}

/** Metrics or logs export, or a propagator other than W3C's: only the full NodeSDK builds those. */
function needsNodeSdk(env: Env): boolean {
  const asked = (name: string) => (env[name] ?? "").split(",").some((s) => s.trim() !== "" && s.trim() !== "none");
  const propagators = getStringListFromEnv("OTEL_PROPAGATORS") ?? [];
  return asked("OTEL_METRICS_EXPORTER") || asked("OTEL_LOGS_EXPORTER") || propagators.some((p) => p === "b3" || p === "b3multi");
}

/** The previous bootstrap, loaded only when asked for: the NodeSDK with our span processor. */
async function startNodeSdk(serviceName: string, env: Env): Promise<Tracing> {
  const { NodeSDK } = await import("@opentelemetry/sdk-node");
  const { processor, outcome } = await spanProcessorFromEnv(env);
  activateOutcomeSampling(outcome);
  const sdk = new NodeSDK({
    serviceName,
    spanProcessors: [processor],
    ...(env.OTEL_METRICS_EXPORTER ? {} : { metricReaders: [] }),
    ...(env.OTEL_LOGS_EXPORTER ? {} : { logRecordProcessors: [] }),
    instrumentations: [],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}

/** OTEL_PROPAGATORS as NodeSDK reads it: unset → tracecontext + baggage; `none` → no propagator. */
function propagatorFromEnv(): TextMapPropagator | undefined {
  const names = getStringListFromEnv("OTEL_PROPAGATORS");
  if (names == null) return new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] });
  if (names.includes("none")) return undefined;
  const propagators: TextMapPropagator[] = [];
  for (const name of new Set(names)) {
    if (name === "tracecontext") propagators.push(new W3CTraceContextPropagator());
    else if (name === "baggage") propagators.push(new W3CBaggagePropagator());
    else diag.warn(`Propagator "${name}" requested through environment variable is unavailable.`);
  }
  if (propagators.length === 0) return undefined;
  return propagators.length === 1 ? propagators[0] : new CompositePropagator({ propagators });
}

/** NodeSDK's default detectors, or those OTEL_NODE_RESOURCE_DETECTORS names (`all`, `none`, names). */
function resourceDetectorsFromEnv(): ResourceDetector[] {
  const byName: Record<string, ResourceDetector> = {
    host: hostDetector,
    os: osDetector,
    serviceinstance: serviceInstanceIdDetector,
    process: processDetector,
    env: envDetector,
  };
  const names = getStringFromEnv("OTEL_NODE_RESOURCE_DETECTORS") ? (getStringListFromEnv("OTEL_NODE_RESOURCE_DETECTORS") ?? []) : undefined;
  if (names === undefined) return [serviceInstanceIdDetector, processDetector, hostDetector, osDetector, envDetector];
  if (names.includes("all")) return Object.values(byName);
  if (names.includes("none")) return [];
  return names.flatMap((name) => {
    const detector = byName[name];
    if (!detector) diag.warn(`Invalid resource detector "${name}" specified in the environment variable OTEL_NODE_RESOURCE_DETECTORS`);
    return detector ? [detector] : [];
  });
}

/** OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG; undefined → the SDK default (parentbased_always_on). */
function samplerFromEnv(): Sampler | undefined {
  const name = getStringFromEnv("OTEL_TRACES_SAMPLER");
  switch (name) {
    case undefined:
      return undefined;
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "traceidratio":
      return new TraceIdRatioBasedSampler(samplerRatioFromEnv());
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(samplerRatioFromEnv()) });
    // Reached only when nothing is exported (otherwise startTracing uses the policy's own sampler):
    // then the policy has nothing to keep, and spans are not recorded, as with tracing off.
    case OUTCOME_SAMPLER:
      return undefined;
    default:
      diag.error(`unknown OTEL_TRACES_SAMPLER value "${name}", using default`);
      return undefined;
  }
}

function samplerRatioFromEnv(fallback = 1): number {
  const ratio = getNumberFromEnv("OTEL_TRACES_SAMPLER_ARG");
  if (ratio == null || ratio < 0 || ratio > 1) {
    diag.error(`OTEL_TRACES_SAMPLER_ARG is blank or outside [0..1] (${ratio}), defaulting to ${fallback}.`);
    return fallback;
  }
  return ratio;
}

function spanLimitsFromEnv() {
  return {
    attributeCountLimit: getNumberFromEnv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT") ?? getNumberFromEnv("OTEL_ATTRIBUTE_COUNT_LIMIT"),
    attributeValueLengthLimit:
      getNumberFromEnv("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT") ?? getNumberFromEnv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
    eventCountLimit: getNumberFromEnv("OTEL_SPAN_EVENT_COUNT_LIMIT"),
    linkCountLimit: getNumberFromEnv("OTEL_SPAN_LINK_COUNT_LIMIT"),
    attributePerEventCountLimit:
      getNumberFromEnv("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT") ?? getNumberFromEnv("OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT"),
    attributePerLinkCountLimit:
      getNumberFromEnv("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT") ?? getNumberFromEnv("OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT"),
  };
}

/** `OTEL_TRACES_EXPORTER=none`: spans get ids but go nowhere. */
function exportsNothing(env: Env): boolean {
  return (env.OTEL_TRACES_EXPORTER ?? "otlp")
    .split(",")
    .map((s) => s.trim())
    .includes("none");
}

/**
 * `OTEL_TRACES_EXPORTER=none`: spans get ids but go nowhere; anything else: OTLP over HTTP, behind
 * the outcome policy's processor when OTEL_TRACES_SAMPLER asks for it (otel/outcome-sampling.ts).
 */
async function spanProcessorFromEnv(env: Env): Promise<{ processor: SpanProcessor; outcome?: OutcomeSpanProcessor }> {
  if (exportsNothing(env)) return { processor: new NoopSpanProcessor() };
  const exporting = batchProcessorFromEnv(env, await traceExporterFromEnv(env));
  if (getStringFromEnv("OTEL_TRACES_SAMPLER") !== OUTCOME_SAMPLER) return { processor: exporting };
  const outcome = new OutcomeSpanProcessor(exporting, {
    happyRatio: getStringFromEnv("OTEL_TRACES_SAMPLER_ARG") === undefined ? DEFAULT_HAPPY_RATIO : samplerRatioFromEnv(DEFAULT_HAPPY_RATIO),
    holdSpans: positiveNumber(env.TRACE_HOLD_SPANS) ?? DEFAULT_HOLD_SPANS,
  });
  return { processor: outcome, outcome };
}

/**
 * OTEL_EXPORTER_OTLP_TRACES_PROTOCOL (or OTEL_EXPORTER_OTLP_PROTOCOL): `http/json` or
 * `http/protobuf`. The protobuf exporter is imported only when asked for.
 */
async function traceExporterFromEnv(env: Env): Promise<SpanExporter> {
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL)?.trim() || DEFAULT_OTLP_PROTOCOL;
  if (protocol === "http/protobuf") {
    const { OTLPTraceExporter: OTLPProtobufTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-proto");
    return new OTLPProtobufTraceExporter();
  }
  if (protocol !== "http/json") diag.warn(`Unsupported OTLP traces protocol "${protocol}"; using http/json.`);
  return new OTLPTraceExporter();
}

export const DEFAULT_OTLP_PROTOCOL = "http/json";

/** Spans per export unless OTEL_BSP_MAX_EXPORT_BATCH_SIZE says otherwise (the SDK's default is 512). */
export const DEFAULT_EXPORT_BATCH_SIZE = 128;

/**
 * A BatchSpanProcessor given as `spanProcessors` no longer reads OTEL_BSP_* itself (sdk-trace 3 /
 * sdk-node 0.301 read them only for processors they create), so pass them on. Batches of 128
 * rather than 512 spans: the same CPU per span at a few thousand spans a second, and a quarter of the
 * memory a batch takes while it is serialised (peak RSS ~10 MB lower under load; BENCHMARKS.md,
 * "Settings decided by measurement").
 */
function batchProcessorFromEnv(env: Env, exporter: SpanExporter): BatchSpanProcessor {
  return new BatchSpanProcessor({
    exporter,
    scheduledDelayMillis: positiveNumber(env.OTEL_BSP_SCHEDULE_DELAY),
    exportTimeoutMillis: positiveNumber(env.OTEL_BSP_EXPORT_TIMEOUT),
    maxQueueSize: positiveNumber(env.OTEL_BSP_MAX_QUEUE_SIZE),
    maxExportBatchSize: positiveNumber(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE) ?? DEFAULT_EXPORT_BATCH_SIZE,
  });
}

/** A positive number from an env value, or undefined (the SDK default) when unset or invalid. */
function positiveNumber(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}
