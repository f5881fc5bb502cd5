/**
 * Reads one trace from Jaeger's query service (v3 OTLP JSON first, v1 JSON as fallback) and turns
 * it into flat spans for the `trace` command and the `/orders/{id}/trace` route. Web-standard APIs
 * only (global `fetch`, `AbortSignal`, `atob`), so it runs on Node and Deno alike.
 *
 * A trace inspection is a diagnostic aid, never a reason to fail a request: every way Jaeger can be
 * missing or unhelpful ends as `spans: null` plus a warning the user can act on.
 */

/** One span as the waterfall and the order API show it. */
export interface TraceSpan {
  spanId: string;
  parentSpanId: string | null;
  service: string;
  operation: string;
  /** "server" | "client" | "producer" | "consumer" | "internal", or null when the span has none. */
  kind: string | null;
  startTimeUs: number;
  durationUs: number;
  status: "ok" | "error" | "unset";
  attributes: Record<string, string | number | boolean>;
}

/**
 * A span's name as the waterfalls show it. A messaging span is named after its destination template
 * (`publish orders.{partition}.{orderId}.ORDER_CREATED`, otel/messaging-attributes.ts), the same
 * for every order, so within one trace its operation and event type say it all:
 * `publish ORDER_CREATED`. A CLIENT span, named by its method alone, adds where it went.
 *
 * @example spanLabel(span) // "process PAYMENT_COMPLETED", "POST 127.0.0.1:8080", "POST /orders"
 */
export function spanLabel(span: TraceSpan): string {
  const a = span.attributes;
  const operation = a["messaging.operation.name"];
  const eventType = a["orderstream.event_type"];
  if (typeof operation === "string" && typeof eventType === "string") return `${operation} ${eventType}`;
  const address = a["server.address"];
  if (span.kind === "client" && typeof address === "string") {
    const port = a["server.port"];
    return `${span.operation} ${address.includes(":") ? `[${address}]` : address}${port !== undefined ? `:${port}` : ""}`;
  }
  return span.operation;
}

/** What a trace lookup found: spans, or null with a warning saying why. */
export interface TraceLookup {
  traceId: string;
  /** Jaeger UI link: `<base>/trace/<traceId>`. */
  jaegerUrl: string;
  spans: TraceSpan[] | null;
  warning?: string;
}

/** Options of {@link fetchTrace}. */
export interface FetchTraceOptions {
  /** Jaeger query base URL, e.g. `http://127.0.0.1:16686` (JAEGER_QUERY_URL). */
  baseUrl: string;
  traceId: string;
  fetch?: typeof fetch;
  /** Budget for the whole lookup, both API versions together. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 3000;
const TRACE_ID_PATTERN = /^[0-9a-f]{16}$|^[0-9a-f]{32}$/i;

/**
 * The Jaeger UI link of a trace.
 * @example jaegerTraceUrl("http://127.0.0.1:16686/", "4bf9…4736") // "http://127.0.0.1:16686/trace/4bf9…4736"
 */
export function jaegerTraceUrl(baseUrl: string, traceId: string): string {
  return `${trimSlashes(baseUrl)}/trace/${encodeURIComponent(traceId)}`;
}

/**
 * Looks a trace up in Jaeger; never throws, a Jaeger that does not answer gives `spans: null` and a warning.
 * @example const { spans, warning } = await fetchTrace({ baseUrl: "http://127.0.0.1:16686", traceId });
 */
export async function fetchTrace(opts: FetchTraceOptions): Promise<TraceLookup> {
  const base = trimSlashes(opts.baseUrl);
  const traceId = opts.traceId.trim().toLowerCase();
  const lookup = (spans: TraceSpan[] | null, warning?: string): TraceLookup => ({
    traceId,
    jaegerUrl: jaegerTraceUrl(base, traceId),
    spans,
    ...(warning === undefined ? {} : { warning }),
  });

  if (!isHttpUrl(base)) {
    return lookup(
      null,
      `JAEGER_QUERY_URL "${opts.baseUrl}" is not an http(s) URL; set it to Jaeger's query address, e.g. http://127.0.0.1:16686.`,
    );
  }
  if (!TRACE_ID_PATTERN.test(traceId)) {
    return lookup(null, `"${opts.traceId}" is not a trace id (expected 32 hex digits), so Jaeger was not asked.`);
  }

  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const get = (path: string) => getJson(opts.fetch ?? globalThis.fetch, `${base}${path}`, AbortSignal.timeout(timeoutMs));

  const v3 = await get(`/api/v3/traces/${traceId}`).then((answer) => interpret(answer, parseV3Trace));
  if (v3.kind === "spans") return lookup(v3.spans);
  if (v3.kind === "unreachable") return lookup(null, unreachableWarning(base, v3.reason, timeoutMs));

  // Jaeger v1 releases without the v3 HTTP API answer 404 (or the UI's HTML) there, but still serve v1.
  const v1 = await get(`/api/traces/${traceId}`).then((answer) => interpret(answer, parseV1Trace));
  switch (v1.kind) {
    case "spans":
      return lookup(v1.spans);
    case "unreachable":
      return lookup(null, unreachableWarning(base, v1.reason, timeoutMs));
    case "not-found":
      return lookup(null, `Jaeger has no trace ${traceId} yet: spans are exported in batches, try again in a few seconds.`);
    case "bad-answer":
      return lookup(null, `Jaeger at ${base} ${v1.detail}; is JAEGER_QUERY_URL pointing at Jaeger's query port (16686 by default)?`);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

type Answer =
  | { kind: "json"; status: number; body: unknown }
  | { kind: "not-json"; status: number; contentType: string }
  | { kind: "unreachable"; reason: string };

type Outcome =
  | { kind: "spans"; spans: TraceSpan[] }
  | { kind: "not-found" }
  | { kind: "unreachable"; reason: string }
  | { kind: "bad-answer"; detail: string };

async function getJson(fetchImpl: typeof fetch, url: string, signal: AbortSignal): Promise<Answer> {
  try {
    const response = await fetchImpl(url, { headers: { accept: "application/json" }, signal });
    const text = await response.text();
    try {
      return { kind: "json", status: response.status, body: JSON.parse(text) as unknown };
    } catch {
      return { kind: "not-json", status: response.status, contentType: response.headers.get("content-type") ?? "no content type" };
    }
  } catch (error) {
    return { kind: "unreachable", reason: networkFailureReason(error) };
  }
}

function interpret(answer: Answer, parse: (body: unknown) => TraceSpan[] | null): Outcome {
  if (answer.kind === "unreachable") return answer;
  // Jaeger answers a missing trace with 404 and a JSON error body (v1 `errors`, v3 `error`); a 404
  // without one comes from something else listening there, which "try again later" would not fix.
  if (answer.status === 404 && answer.kind === "json" && isJaegerError(answer.body)) return { kind: "not-found" };
  if (answer.kind === "not-json") {
    return { kind: "bad-answer", detail: `answered HTTP ${answer.status} with ${answer.contentType}, not JSON` };
  }
  if (answer.status < 200 || answer.status > 299) {
    return { kind: "bad-answer", detail: `answered HTTP ${answer.status}${errorMessageOf(answer.body)}` };
  }
  const spans = parse(answer.body);
  if (spans === null) return { kind: "bad-answer", detail: "answered JSON that is not a Jaeger trace" };
  return spans.length === 0 ? { kind: "not-found" } : { kind: "spans", spans: finishTrace(spans) };
}

/** Node wraps the socket error in `cause` (code ECONNREFUSED); Deno puts it in the message. */
function networkFailureReason(error: unknown): string {
  // DOMException is not an Error subclass on every runtime, so look at the name alone.
  if (isRecord(error) && (error.name === "TimeoutError" || error.name === "AbortError")) return "timeout";
  const texts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (isRecord(e)) {
      if (typeof e.code === "string") texts.push(e.code);
      if (typeof e.message === "string") texts.push(e.message);
      e = e.cause;
    } else {
      texts.push(String(e));
      break;
    }
  }
  const all = texts.join(" ");
  if (/ECONNREFUSED|connection refused/i.test(all)) return "connection refused";
  if (/ENOTFOUND|EAI_AGAIN|dns|name resolution|failed to lookup/i.test(all)) return "host name not found";
  if (/ECONNRESET|connection reset|socket hang up|other side closed/i.test(all)) return "connection closed";
  return texts.at(-1) ?? "unknown error";
}

function unreachableWarning(base: string, reason: string, timeoutMs: number): string {
  const why = reason === "timeout" ? `within ${timeoutMs} ms` : `(${reason})`;
  return `Jaeger at ${base} did not answer ${why}; is it running? Set JAEGER_QUERY_URL to its query address.`;
}

function isJaegerError(body: unknown): boolean {
  return isRecord(body) && (Array.isArray(body.errors) || isRecord(body.error));
}

function errorMessageOf(body: unknown): string {
  if (!isRecord(body)) return "";
  const v3 = isRecord(body.error) ? body.error.message : undefined;
  const v1 = Array.isArray(body.errors) && isRecord(body.errors[0]) ? body.errors[0].msg : undefined;
  const message = typeof v3 === "string" ? v3 : typeof v1 === "string" ? v1 : undefined;
  return message ? ` (${message})` : "";
}

// ---------------------------------------------------------------------------------------------
// v3: `{ result: { resourceSpans: [{ resource, scopeSpans: [{ scope, spans }] }] } }` (OTLP JSON)

const OTLP_KINDS = [null, "internal", "server", "client", "producer", "consumer"] as const;

function parseV3Trace(body: unknown): TraceSpan[] | null {
  const result = isRecord(body) ? body.result : undefined;
  if (!isRecord(result) || !Array.isArray(result.resourceSpans)) return null;
  const spans: TraceSpan[] = [];
  for (const resourceSpans of records(result.resourceSpans)) {
    const resource = isRecord(resourceSpans.resource) ? resourceSpans.resource : {};
    const service = String(otlpAttributes(resource.attributes)["service.name"] ?? "unknown_service");
    for (const scopeSpans of records(resourceSpans.scopeSpans)) {
      for (const span of records(scopeSpans.spans)) spans.push(fromOtlpSpan(span, service));
    }
  }
  return spans;
}

function fromOtlpSpan(span: Record<string, unknown>, service: string): TraceSpan {
  const startUs = nanosToMicros(span.startTimeUnixNano);
  const endUs = nanosToMicros(span.endTimeUnixNano);
  const status = isRecord(span.status) ? span.status : {};
  const attributes = otlpAttributes(span.attributes);
  // Keeps the error text visible; v1 carries the same text as the tag `otel.status_description`.
  if (typeof status.message === "string" && status.message !== "") attributes["otel.status_description"] = status.message;
  const parentSpanId = typeof span.parentSpanId === "string" && span.parentSpanId !== "" ? otlpId(span.parentSpanId, 8) : null;
  return {
    spanId: otlpId(String(span.spanId ?? ""), 8),
    parentSpanId,
    service,
    operation: typeof span.name === "string" ? span.name : "",
    kind: otlpKind(span.kind),
    startTimeUs: startUs,
    durationUs: Math.max(0, endUs - startUs),
    status: otlpStatus(status.code),
    attributes,
  };
}

/** Proto-JSON allows enum numbers or names (`2` / `"SPAN_KIND_SERVER"`). */
function otlpKind(kind: unknown): string | null {
  if (typeof kind === "number") return OTLP_KINDS[kind] ?? null;
  if (typeof kind !== "string") return null;
  const name = kind.replace(/^SPAN_KIND_/, "").toLowerCase();
  return (OTLP_KINDS as readonly (string | null)[]).includes(name) ? name : null;
}

function otlpStatus(code: unknown): TraceSpan["status"] {
  if (code === 2 || code === "STATUS_CODE_ERROR") return "error";
  if (code === 1 || code === "STATUS_CODE_OK") return "ok";
  return "unset";
}

function otlpAttributes(list: unknown): Record<string, string | number | boolean> {
  const attributes: Record<string, string | number | boolean> = {};
  for (const entry of records(list)) {
    if (typeof entry.key === "string") attributes[entry.key] = otlpValue(entry.value);
  }
  return attributes;
}

function otlpValue(value: unknown): string | number | boolean {
  if (!isRecord(value)) return "";
  if (typeof value.stringValue === "string") return value.stringValue;
  if (typeof value.boolValue === "boolean") return value.boolValue;
  if (value.intValue !== undefined) return safeInteger(value.intValue);
  if (typeof value.doubleValue === "number") return value.doubleValue;
  if (isRecord(value.arrayValue)) return JSON.stringify(records(value.arrayValue.values).map(otlpValue));
  if (isRecord(value.kvlistValue)) return JSON.stringify(otlpAttributes(value.kvlistValue.values));
  if (typeof value.bytesValue === "string") return value.bytesValue;
  return "";
}

/** OTLP JSON ids are hex by the spec, but older Jaeger gateways emit protobuf's base64 for bytes. */
function otlpId(id: string, byteLength: number): string {
  if (id.length === byteLength * 2 && /^[0-9a-f]+$/i.test(id)) return id.toLowerCase();
  try {
    const binary = atob(id.replace(/-/g, "+").replace(/_/g, "/"));
    if (binary.length === byteLength) {
      return Array.from(binary, (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
    }
  } catch {
    // not base64 either: keep it as it came, it still links parent and child consistently
  }
  return id.toLowerCase();
}

/** Unix nanoseconds come as 19-digit strings, beyond a double's exact range, so divide as BigInt. */
function nanosToMicros(nanos: unknown): number {
  if (typeof nanos === "number") return Math.floor(nanos / 1000);
  if (typeof nanos === "string" && /^\d+$/.test(nanos)) return Number(BigInt(nanos) / 1000n);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// v1: `{ data: [{ traceID, spans: [{ spanID, references, startTime, duration, tags, processID }], processes }] }`

/** Tags Jaeger synthesises from OTLP fields that TraceSpan already has as kind and status. */
const V1_TAGS_AS_FIELDS = new Set(["span.kind", "otel.status_code", "error", "otel.scope.name", "otel.scope.version"]);
const V1_KINDS = new Set(["server", "client", "producer", "consumer", "internal"]);

function parseV1Trace(body: unknown): TraceSpan[] | null {
  const data = isRecord(body) ? body.data : undefined;
  if (!Array.isArray(data)) return null;
  const spans: TraceSpan[] = [];
  for (const trace of records(data)) {
    const processes = isRecord(trace.processes) ? trace.processes : {};
    for (const span of records(trace.spans)) {
      const process = typeof span.processID === "string" ? processes[span.processID] : undefined;
      const service = isRecord(process) && typeof process.serviceName === "string" ? process.serviceName : "unknown_service";
      spans.push(fromV1Span(span, service));
    }
  }
  return spans;
}

function fromV1Span(span: Record<string, unknown>, service: string): TraceSpan {
  const tags: Record<string, string | number | boolean> = {};
  for (const tag of records(span.tags)) {
    if (typeof tag.key === "string") tags[tag.key] = v1TagValue(tag.type, tag.value);
  }
  const attributes = Object.fromEntries(Object.entries(tags).filter(([key]) => !V1_TAGS_AS_FIELDS.has(key)));
  const kind = typeof tags["span.kind"] === "string" ? tags["span.kind"].toLowerCase() : null;
  return {
    spanId: String(span.spanID ?? "").toLowerCase(),
    parentSpanId: v1ParentId(span),
    service,
    operation: typeof span.operationName === "string" ? span.operationName : "",
    kind: kind !== null && V1_KINDS.has(kind) ? kind : null,
    startTimeUs: typeof span.startTime === "number" ? span.startTime : 0,
    durationUs: typeof span.duration === "number" ? span.duration : 0,
    status: v1Status(tags),
    attributes,
  };
}

/** Jaeger's own rule (model.Span.ParentSpanID): the first CHILD_OF into the same trace; FOLLOWS_FROM is a link. */
function v1ParentId(span: Record<string, unknown>): string | null {
  const ownTrace = normaliseTraceId(span.traceID);
  for (const ref of records(span.references)) {
    if (ref.refType === "CHILD_OF" && normaliseTraceId(ref.traceID) === ownTrace && typeof ref.spanID === "string") {
      return ref.spanID.toLowerCase();
    }
  }
  return null;
}

function v1Status(tags: Record<string, string | number | boolean>): TraceSpan["status"] {
  const code = String(tags["otel.status_code"] ?? "").toUpperCase();
  if (code === "ERROR" || tags.error === true || tags.error === "true") return "error";
  return code === "OK" ? "ok" : "unset";
}

function v1TagValue(type: unknown, value: unknown): string | number | boolean {
  if (type === "int64") return safeInteger(value);
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  return JSON.stringify(value) ?? "";
}

// ---------------------------------------------------------------------------------------------
// shared

/** Drops exact duplicates (Jaeger returns a span once per copy stored), roots orphans, sorts by start. */
function finishTrace(spans: TraceSpan[]): TraceSpan[] {
  const seen = new Set<string>();
  const unique = spans.filter((span) => {
    const key = JSON.stringify(span);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const ids = new Set(unique.map((span) => span.spanId));
  // A parent that is not in this trace (another trace, or not exported yet) cannot be drawn: make it a root.
  const rooted = unique.map((span) => (span.parentSpanId !== null && !ids.has(span.parentSpanId) ? { ...span, parentSpanId: null } : span));
  return rooted.sort((a, b) => a.startTimeUs - b.startTimeUs);
}

/** int64 arrives as a string when it exceeds a double; only convert when no digit is lost. */
function safeInteger(value: unknown): string | number {
  const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN;
  if (Number.isSafeInteger(n)) return n;
  return typeof value === "string" ? value : String(value);
}

function normaliseTraceId(id: unknown): string {
  return typeof id === "string" ? id.toLowerCase().padStart(32, "0") : "";
}

function records(list: unknown): Record<string, unknown>[] {
  return Array.isArray(list) ? list.filter(isRecord) : [];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isHttpUrl(url: string): boolean {
  try {
    const protocol = new URL(url).protocol;
    return protocol === "http:" || protocol === "https:";
  } catch {
    return false;
  }
}

function trimSlashes(url: string): string {
  return url.trim().replace(/\/+$/, "");
}
