/**
 * Jaeger's two trace formats — v3 (OTLP JSON) and v1 (Jaeger JSON) — mapped to the flat spans of
 * inspection/trace-span.ts. Pure and tolerant: a field that is missing or of the wrong type gives a
 * default, and only a body that is not a trace at all gives null (inspection/jaeger-client.ts
 * turns that into a warning).
 */
import type { TraceSpan } from "./trace-span.ts";

// ---------------------------------------------------------------------------------------------
// v3: `{ result: { resourceSpans: [{ resource, scopeSpans: [{ scope, spans }] }] } }` (OTLP JSON)

const OTLP_KINDS = [null, "internal", "server", "client", "producer", "consumer"] as const;

/** Jaeger v3's GetTrace answer as spans, or null when the body is not one. */
export function parseV3Trace(body: unknown): TraceSpan[] | null {
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

/** Jaeger v1's trace answer as spans, or null when the body is not one. */
export function parseV1Trace(body: unknown): TraceSpan[] | null {
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
// both versions

/** Drops exact duplicates (Jaeger returns a span once per copy stored), roots orphans, sorts by start. */
export function finishTrace(spans: TraceSpan[]): TraceSpan[] {
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

/** A JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
