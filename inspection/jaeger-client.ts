/**
 * Reads one trace from Jaeger's query service (v3 OTLP JSON first, v1 JSON as fallback) for the
 * `trace` command, the `/orders/{id}/trace` route and the timeline page; inspection/jaeger-spans.ts
 * maps the answers to spans. Web-standard APIs only (global `fetch`, `AbortSignal`), so it runs on
 * Node and Deno alike.
 *
 * A trace inspection is a diagnostic aid, never a reason to fail a request: every way Jaeger can be
 * missing or unhelpful ends as `spans: null` plus a warning the user can act on.
 */
import { OUTCOME_SAMPLER, outcomeSampling } from "../otel/outcome-sampling.ts";
import { networkFailureReason } from "../shared/network-error.ts";
import { finishTrace, isRecord, parseV1Trace, parseV3Trace } from "./jaeger-spans.ts";
import type { TraceLookup, TraceSpan } from "./trace-span.ts";

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
      return lookup(
        null,
        `Jaeger has no trace ${traceId} yet: spans are exported in batches, try again in a few seconds.` +
          (outcomeSampling()
            ? ` Or it is not kept: traces are sampled by outcome (OTEL_TRACES_SAMPLER=${OUTCOME_SAMPLER}), and of happy orders only a share is exported.`
            : ""),
      );
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
