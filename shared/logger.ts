/**
 * Structured JSON logs (pino): service name on every line, and trace_id and span_id, so a log line
 * leads to its trace. The services pass trace contexts explicitly (otel/sdk.ts), so code that has a
 * span adds `traceFields(span)` to its child logger; the active span, where a context manager
 * keeps one, is added too.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from "pino";
import { isSpanContextValid, trace, type Span } from "@opentelemetry/api";

export type Logger = PinoLogger;

/** Keys whose value is a secret or payment instrument data: replaced, at the top or one level down. */
const SECRET_KEYS = [
  "password",
  "natsPassword",
  "token",
  "orderApiToken",
  "apiKey",
  "authorization",
  "cookie",
  "card",
  "cardNumber",
  "pan",
  "cvv",
  "cvc",
  "iban",
];
/** Keys holding server URLs, which may carry `user:password@`: logged without the userinfo. */
const URL_KEYS = new Set(["servers", "server", "url", "natsUrl"]);
const SECRET_SET = new Set(SECRET_KEYS);
const HEADER_SECRETS = ["authorization", "cookie"];
/**
 * The top level, and header bags (request logs, NATS headers), through pino's redaction. One level
 * down is {@link redactNested}'s: pino's `*.key` wildcard paths cost ~15 µs on every line (each is
 * tried on every field), 8× pino's whole cost of a line — measured with bench/log-shipping.ts.
 */
const REDACT_PATHS = [...SECRET_KEYS, ...URL_KEYS, ...HEADER_SECRETS.map((h) => `headers.${h}`)];

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/**
 * A log object with secrets one level down replaced (`{ config: { natsPassword } }`), URLs there
 * without their userinfo, and header bags one level down (`{ request: { headers: { cookie } } }`)
 * cleaned — copies, never the caller's objects; the object itself when nothing needs it (the
 * common case: a line of plain fields costs one look at each value). Errors are left to pino's
 * serializer.
 */
function redactNested(obj: Record<string, unknown>): Record<string, unknown> {
  let out = obj;
  for (const key in obj) {
    const value = obj[key];
    if (!isPlainObject(value)) continue;
    let copy: Record<string, unknown> | undefined;
    for (const inner in value) {
      const v = value[inner];
      let replaced: unknown = v;
      if (SECRET_SET.has(inner)) replaced = "[redacted]";
      else if (URL_KEYS.has(inner)) replaced = withoutUserinfo(v);
      else if (inner === "headers" && isPlainObject(v) && HEADER_SECRETS.some((h) => h in v)) {
        replaced = { ...v, ...Object.fromEntries(HEADER_SECRETS.filter((h) => h in v).map((h) => [h, "[redacted]"])) };
      }
      if (replaced !== v) (copy ??= { ...value })[inner] = replaced;
    }
    if (copy) {
      if (out === obj) out = { ...obj };
      out[key] = copy;
    }
  }
  return out;
}

/** `nats://user:pw@host:4222` → `nats://host:4222`; anything else as it is. */
function withoutUserinfo(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUserinfo);
  return typeof value === "string" ? value.replace(/^([a-z][\w+.-]*:\/\/)[^/@\s]*@/i, "$1") : value;
}

/**
 * A logger for one service; `level` follows LOG_LEVEL (default info). `destination` defaults to
 * stdout (tests pass a stream to read the lines). `ship`, when given, also gets every line as
 * written (the log shipper's `write`, shared/log-shipper.ts): one serialisation, two destinations.
 * @example createLogger("payment-service", "info", undefined, createLogShipper({ url }).write)
 */
export function createLogger(service: string, level = "info", destination?: DestinationStream, ship?: (line: string) => void): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service },
    messageKey: "msg",
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }), log: redactNested },
    mixin: () => traceFields(trace.getActiveSpan()),
    redact: {
      paths: REDACT_PATHS,
      censor: (value, path) => (URL_KEYS.has(path[path.length - 1] ?? "") ? withoutUserinfo(value) : "[redacted]"),
    },
  };
  if (ship) {
    // pino's own stdout destination (asynchronous, as pino(options) would use) plus the shipper.
    const out = destination ?? pino.destination(1);
    const tee: DestinationStream = {
      write(line: string) {
        out.write(line);
        ship(line);
      },
    };
    return pino(options, tee);
  }
  return destination ? pino(options, destination) : pino(options);
}

/** The log fields naming a span: trace_id and span_id, or none without a (valid) span. */
export function traceFields(span: Span | undefined): { trace_id?: string; span_id?: string } {
  const ctx = span?.spanContext();
  return ctx && isSpanContextValid(ctx) ? { trace_id: ctx.traceId, span_id: ctx.spanId } : {};
}
