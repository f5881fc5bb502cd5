// Minimal in-process OTLP/HTTP (JSON) trace receiver for tests.
// Point a service at it with OTEL_EXPORTER_OTLP_ENDPOINT=<receiver.url> (the exporter appends /v1/traces).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync, inflateSync } from "node:zlib";

export interface ReceivedSpanEvent {
  name: string;
  attributes: Record<string, unknown>;
}

export interface ReceivedSpan {
  /** lowercase hex, 32 chars */
  traceId: string;
  /** lowercase hex, 16 chars */
  spanId: string;
  /** lowercase hex, or null for a root span */
  parentSpanId: string | null;
  name: string;
  /** OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer */
  kind: number;
  /** resource attribute service.name ("" when absent) */
  serviceName: string;
  attributes: Record<string, unknown>;
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error */
  status: { code: number; message?: string };
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  events: ReceivedSpanEvent[];
}

export interface RejectedRequest {
  path: string;
  contentType: string;
  status: number;
  reason: string;
}

export interface OtlpReceiver {
  /** http://127.0.0.1:<port> — use as OTEL_EXPORTER_OTLP_ENDPOINT */
  url: string;
  /** All spans received so far, in arrival order (copy). */
  spans(): ReceivedSpan[];
  /** Spans grouped by traceId, in arrival order. */
  traces(): Map<string, ReceivedSpan[]>;
  /** Poll every 50 ms until predicate(spans) is true; on timeout throw with a summary of what arrived. */
  waitFor(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  /** Requests answered with a non-2xx status (e.g. protobuf → 415), for diagnostics. */
  rejected(): RejectedRequest[];
  /** Forget received spans and rejections. */
  clear(): void;
  close(): Promise<void>;
}

// ---- OTLP JSON decoding ----------------------------------------------------

const SPAN_KIND_NAMES: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODE_NAMES: Record<string, number> = {
  STATUS_CODE_UNSET: 0,
  STATUS_CODE_OK: 1,
  STATUS_CODE_ERROR: 2,
};

/**
 * OTLP/JSON ids: the spec (and @opentelemetry/otlp-transformer >= ~0.52, incl. the 0.301 installed here,
 * whose JSON_ENCODER uses `encodeSpanContext: identity`) sends hex strings; older JS exporters and
 * protobuf-JSON mappers sent base64 of the raw bytes. Accept both, return lowercase hex.
 */
export function normaliseOtlpId(value: unknown, byteLength: 16 | 8): string | null {
  if (value === undefined || value === null || value === "") return null;
  if (typeof value !== "string") {
    if (Array.isArray(value) || value instanceof Uint8Array) return Buffer.from(value as Uint8Array).toString("hex");
    return null;
  }
  if (value.length === byteLength * 2 && /^[0-9a-fA-F]+$/.test(value)) {
    return /^0+$/.test(value) ? null : value.toLowerCase();
  }
  const bytes = Buffer.from(value, "base64");
  if (bytes.length === byteLength) {
    const hex = bytes.toString("hex");
    return /^0+$/.test(hex) ? null : hex;
  }
  // Unknown shape: keep it visible rather than dropping it.
  return value.toLowerCase();
}

function toNumber(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v.trim() !== "") return Number(v);
  return NaN;
}

type AnyValue = {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number | string;
  boolValue?: boolean;
  bytesValue?: string;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
};
type KeyValue = { key: string; value?: AnyValue };

export function flattenAnyValue(v: AnyValue | undefined): unknown {
  if (v === undefined || v === null) return undefined;
  if ("stringValue" in v) return v.stringValue;
  if ("intValue" in v) return toNumber(v.intValue);
  if ("doubleValue" in v) return toNumber(v.doubleValue);
  if ("boolValue" in v) return v.boolValue;
  if ("arrayValue" in v) return (v.arrayValue?.values ?? []).map(flattenAnyValue);
  if ("kvlistValue" in v) return flattenAttributes(v.kvlistValue?.values);
  if ("bytesValue" in v) return v.bytesValue; // base64, left as is
  return undefined;
}

export function flattenAttributes(kvs: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of kvs ?? []) out[kv.key] = flattenAnyValue(kv.value);
  return out;
}

// biome-ignore-start lint/suspicious/noExplicitAny: OTLP/JSON as received, read field by field with fallbacks
/** Parse an ExportTraceServiceRequest (OTLP/JSON) into flat spans. */
export function parseOtlpTraceRequest(body: any): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body?.resourceSpans ?? []) {
    const resourceAttrs = flattenAttributes(rs?.resource?.attributes);
    const serviceName = typeof resourceAttrs["service.name"] === "string" ? (resourceAttrs["service.name"] as string) : "";
    // scopeSpans (current) / instrumentationLibrarySpans (pre-1.0 OTLP)
    for (const ss of [...(rs?.scopeSpans ?? []), ...(rs?.instrumentationLibrarySpans ?? [])]) {
      for (const s of ss?.spans ?? []) {
        const kind = typeof s.kind === "string" ? (SPAN_KIND_NAMES[s.kind] ?? toNumber(s.kind)) : (s.kind ?? 0);
        const rawCode = s.status?.code ?? 0;
        const code = typeof rawCode === "string" ? (STATUS_CODE_NAMES[rawCode] ?? toNumber(rawCode)) : rawCode;
        const status: ReceivedSpan["status"] = { code };
        if (typeof s.status?.message === "string" && s.status.message !== "") status.message = s.status.message;
        out.push({
          traceId: normaliseOtlpId(s.traceId, 16) ?? "",
          spanId: normaliseOtlpId(s.spanId, 8) ?? "",
          parentSpanId: normaliseOtlpId(s.parentSpanId, 8),
          name: String(s.name ?? ""),
          kind,
          serviceName,
          attributes: flattenAttributes(s.attributes),
          status,
          startTimeUnixNano: String(s.startTimeUnixNano ?? ""),
          endTimeUnixNano: String(s.endTimeUnixNano ?? ""),
          events: (s.events ?? []).map((e: any) => ({ name: String(e?.name ?? ""), attributes: flattenAttributes(e?.attributes) })),
        });
      }
    }
  }
  return out;
}
// biome-ignore-end lint/suspicious/noExplicitAny: end of the OTLP/JSON parsing

const KIND_LABELS = ["unspecified", "internal", "server", "client", "producer", "consumer"];

function summarise(spans: ReceivedSpan[], rejected: RejectedRequest[]): string {
  const lines: string[] = [`received ${spans.length} span(s)`];
  const byTrace = groupByTrace(spans);
  lines[0] += ` in ${byTrace.size} trace(s)`;
  for (const [traceId, list] of byTrace) {
    lines.push(`  trace ${traceId}:`);
    for (const s of list.slice(0, 40)) {
      lines.push(
        `    ${s.serviceName || "?"} ${KIND_LABELS[s.kind] ?? s.kind} "${s.name}" span=${s.spanId} parent=${s.parentSpanId ?? "-"}` +
          (s.status.code === 2 ? ` ERROR${s.status.message ? `(${s.status.message})` : ""}` : ""),
      );
    }
    if (list.length > 40) lines.push(`    … ${list.length - 40} more`);
  }
  if (rejected.length > 0) {
    lines.push(`rejected ${rejected.length} request(s):`);
    for (const r of rejected.slice(-5)) lines.push(`  ${r.status} ${r.path} (${r.contentType || "no content-type"}): ${r.reason}`);
  }
  return lines.join("\n");
}

function groupByTrace(spans: ReceivedSpan[]): Map<string, ReceivedSpan[]> {
  const map = new Map<string, ReceivedSpan[]>();
  for (const s of spans) {
    let list = map.get(s.traceId);
    if (!list) map.set(s.traceId, (list = []));
    list.push(s);
  }
  return map;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  const encoding = String(req.headers["content-encoding"] ?? "").toLowerCase();
  if (encoding === "gzip") return gunzipSync(raw);
  if (encoding === "deflate") return inflateSync(raw);
  return raw;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  let received: ReceivedSpan[] = [];
  let rejectedRequests: RejectedRequest[] = [];

  const reply = (res: ServerResponse, status: number, body: string, type: string) => {
    res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
    res.end(body);
  };
  const reject = (req: IncomingMessage, res: ServerResponse, path: string, status: number, reason: string) => {
    rejectedRequests.push({ path, contentType: String(req.headers["content-type"] ?? ""), status, reason });
    if (rejectedRequests.length > 100) rejectedRequests.splice(0, rejectedRequests.length - 100);
    reply(res, status, reason, "text/plain; charset=utf-8");
  };

  const server = createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    try {
      const isTraces = path === "/v1/traces";
      const isOtherSignal = path === "/v1/metrics" || path === "/v1/logs";
      if (!isTraces && !isOtherSignal) {
        req.resume();
        return reject(req, res, path, 404, `not found: this test receiver only handles POST /v1/traces`);
      }
      if (req.method !== "POST") {
        req.resume();
        return reject(req, res, path, 405, `method ${req.method} not allowed; use POST`);
      }
      const contentType = String(req.headers["content-type"] ?? "").toLowerCase();
      if (contentType.startsWith("application/x-protobuf") || contentType.startsWith("application/protobuf")) {
        req.resume();
        return reject(
          req,
          res,
          path,
          415,
          "unsupported media type application/x-protobuf: this test receiver only accepts OTLP/HTTP JSON " +
            "(application/json). Use @opentelemetry/exporter-trace-otlp-http or OTEL_EXPORTER_OTLP_PROTOCOL=http/json.",
        );
      }
      if (!contentType.startsWith("application/json")) {
        req.resume();
        return reject(req, res, path, 415, `unsupported media type "${contentType}": send application/json (OTLP/HTTP JSON)`);
      }
      const body = await readBody(req);
      let parsed: unknown;
      try {
        parsed = body.length === 0 ? {} : JSON.parse(body.toString("utf8"));
      } catch (err) {
        return reject(req, res, path, 400, `invalid JSON body: ${(err as Error).message}`);
      }
      // Metrics/logs are accepted (so an SDK exporting them does not log errors) and discarded.
      if (isTraces) received.push(...parseOtlpTraceRequest(parsed));
      reply(res, 200, "{}", "application/json");
    } catch (err) {
      if (!res.headersSent) reject(req, res, path, 500, `receiver error: ${(err as Error).message}`);
      else res.destroy();
    }
  });

  await new Promise<void>((resolve, rejectListen) => {
    server.once("error", rejectListen);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", rejectListen);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    spans: () => received.slice(),
    traces: () => groupByTrace(received),
    rejected: () => rejectedRequests.slice(),
    clear: () => {
      received = [];
      rejectedRequests = [];
    },
    async waitFor(predicate, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      let lastError: unknown;
      for (;;) {
        const snapshot = received.slice();
        try {
          if (predicate(snapshot)) return snapshot;
          lastError = undefined;
        } catch (err) {
          lastError = err;
        }
        if (Date.now() >= deadline) {
          const errText = lastError ? `\nlast predicate error: ${(lastError as Error)?.message ?? String(lastError)}` : "";
          throw new Error(
            `OTLP receiver: timed out after ${timeoutMs} ms waiting for spans; ${summarise(snapshot, rejectedRequests)}${errText}`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () =>
      new Promise<void>((resolve, rejectClose) => {
        server.close((err) => (err ? rejectClose(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
