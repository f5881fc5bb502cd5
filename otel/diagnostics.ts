/**
 * The OpenTelemetry SDK reports its own trouble — an export that failed, spans dropped because the
 * batch span processor's queue was full — through its diag logger, which is silent unless
 * OTEL_LOG_LEVEL is set. This routes it into the service's log (warnings and errors by default,
 * OTEL_LOG_LEVEL's level when set) and counts the dropped spans for /metrics.
 *
 * Why it matters: when exports cannot keep up (a service saturated with every span sampled) the
 * processor drops spans rather than slow the service or grow without bound, and the traces of the
 * orders of that moment miss spans. An operator should see that, as a number and in the log.
 */
import { diag, DiagLogLevel, type DiagLogger } from "@opentelemetry/api";
import { diagLogLevelFromString } from "@opentelemetry/core";

export interface DiagnosticsLog {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface SdkDiagnostics {
  /** Spans the batch span processor dropped since start because its queue was full. */
  droppedSpans(): number;
}

/** The processor's message (sdk-trace BatchSpanProcessorBase), once per run of drops. */
const DROPPED_SPANS = /^Dropped (\d+) spans because maxQueueSize reached/;
/** Dropped spans are logged as one line per this interval at most: a saturated service drops in every export cycle. */
export const DROPPED_SPANS_REPORT_MS = 10_000;
const FIELDS = { component: "opentelemetry" };

export function reportSdkDiagnostics(
  log: DiagnosticsLog,
  env: Record<string, string | undefined>,
  clock: { now(): number; setTimeout(fn: () => void, ms: number): unknown } = {
    now: () => Date.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
  },
): SdkDiagnostics {
  let dropped = 0;
  let unreported = 0;
  let lastReport = Number.NEGATIVE_INFINITY;
  let reportScheduled = false;
  const report = () => {
    reportScheduled = false;
    if (unreported === 0) return;
    log.warn(
      { ...FIELDS, droppedSpans: unreported, droppedSpansTotal: dropped },
      `tracing: ${unreported} spans dropped, the span exporter could not keep up (a larger OTEL_BSP_MAX_QUEUE_SIZE rides out bursts; OTEL_TRACES_SAMPLER samples fewer)`,
    );
    unreported = 0;
    lastReport = clock.now();
  };
  const args = (rest: unknown[]) => (rest.length > 0 ? { ...FIELDS, args: rest.map(String) } : FIELDS);
  const logger: DiagLogger = {
    error: (message, ...rest) => log.error(args(rest), message),
    warn: (message, ...rest) => {
      const drop = DROPPED_SPANS.exec(message);
      if (!drop) return log.warn(args(rest), message);
      dropped += Number(drop[1]);
      unreported += Number(drop[1]);
      const wait = lastReport + DROPPED_SPANS_REPORT_MS - clock.now();
      if (wait <= 0) report();
      else if (!reportScheduled) {
        reportScheduled = true;
        clock.setTimeout(report, wait);
      }
    },
    info: (message, ...rest) => log.info(args(rest), message),
    debug: (message, ...rest) => log.debug(args(rest), message),
    verbose: (message, ...rest) => log.debug(args(rest), message),
  };
  const level = env.OTEL_LOG_LEVEL ? (diagLogLevelFromString(env.OTEL_LOG_LEVEL) ?? DiagLogLevel.INFO) : DiagLogLevel.WARN;
  diag.disable(); // the SDK's console logger, when OTEL_LOG_LEVEL set one at start: this one replaces it
  diag.setLogger(logger, { logLevel: level, suppressOverrideMessage: true });
  return { droppedSpans: () => dropped };
}
