/**
 * The CLIENT span of one outgoing HTTP request, with the OpenTelemetry HTTP client conventions
 * (docs/operations.md, "Span conventions", names the version): `http.request.method`, `url.full`,
 * `server.address`, `server.port`, `http.response.status_code`, `error.type`; named by the method
 * alone (no URL template is known). Its context goes into the request's `traceparent`/`tracestate`.
 *
 * Hand-made rather than the undici/fetch auto-instrumentation: that one parents its span on the
 * active context, and the project runs without an async-local context manager (otel/sdk.ts says
 * why), so it would start a new trace for every POST. Here the parent is passed in.
 */
import { propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type TextMapSetter } from "@opentelemetry/api";
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
} from "@opentelemetry/semantic-conventions";

import { errorTypeOf, recordSpanError } from "./span-error.ts";

const tracer = trace.getTracer("orderstream.http");

const headerSetter: TextMapSetter<Headers> = {
  set: (headers, key, value) => headers.set(key, value),
};

/** Query parameters whose values the HTTP conventions ask to redact from `url.full` (signed URLs). */
const SENSITIVE_QUERY_PARAMS = new Set(["AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"]);

/**
 * `url.full` as the conventions want it: credentials in the URL replaced by `REDACTED`, and so are
 * the values of the query parameters that carry signatures.
 */
export function redactedUrl(url: URL): string {
  const copy = new URL(url.href);
  if (copy.username) copy.username = "REDACTED";
  if (copy.password) copy.password = "REDACTED";
  for (const key of [...copy.searchParams.keys()]) {
    if (SENSITIVE_QUERY_PARAMS.has(key)) copy.searchParams.set(key, "REDACTED");
  }
  return copy.href;
}

/** The attributes known before the request is sent. */
export function httpClientRequestAttributes(method: string, url: URL): Attributes {
  const port = url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
  return {
    [ATTR_HTTP_REQUEST_METHOD]: method.toUpperCase(),
    [ATTR_URL_FULL]: redactedUrl(url),
    // URL keeps IPv6 literals in brackets; the attribute is the address itself.
    [ATTR_SERVER_ADDRESS]: url.hostname.replace(/^\[(.*)\]$/, "$1"),
    [ATTR_SERVER_PORT]: port,
  };
}

/**
 * `error.type` of a request that got no answer: the innermost error code (ECONNREFUSED, …) when the
 * runtime gives one, else the error's name (TimeoutError, TypeError): low cardinality, as the
 * conventions ask.
 */
export function httpClientErrorType(error: unknown): string {
  let code: string | undefined;
  for (let e: unknown = error, depth = 0; e && typeof e === "object" && depth < 4; depth++) {
    const rec = e as { code?: unknown; cause?: unknown };
    if (typeof rec.code === "string" && rec.code !== "") code = rec.code;
    e = rec.cause;
  }
  return code ?? errorTypeOf(error);
}

/**
 * A client span is an error from 4xx on (the conventions' rule for CLIENT spans: the caller did
 * not get what it asked for), with `error.type` the status code.
 */
export function httpClientResponseAttributes(status: number): Attributes {
  return status >= 400
    ? { [ATTR_HTTP_RESPONSE_STATUS_CODE]: status, [ATTR_ERROR_TYPE]: String(status) }
    : { [ATTR_HTTP_RESPONSE_STATUS_CODE]: status };
}

/**
 * `fetch` under a CLIENT span, a child of `parent`, whose context travels in the request's trace
 * headers. The response (any status) or the thrown error is the caller's, unchanged.
 * The span is named by the method, which is taken as given: callers use the standard ones.
 *
 * @example const res = await tracedFetch(url, { method: "POST", body }, delivery.trace);
 */
export async function tracedFetch(url: string | URL, init: RequestInit & { method: string }, parent: Context): Promise<Response> {
  const target = new URL(url);
  const method = init.method.toUpperCase();
  const span = tracer.startSpan(method, { kind: SpanKind.CLIENT, attributes: httpClientRequestAttributes(method, target) }, parent);
  const headers = new Headers(init.headers);
  // Injected also when the span is not sampled: the receiver still joins the order's trace id.
  propagation.inject(trace.setSpan(parent, span), headers, headerSetter);
  try {
    const response = await fetch(target, { ...init, method, headers });
    span.setAttributes(httpClientResponseAttributes(response.status));
    if (response.status >= 400) span.setStatus({ code: SpanStatusCode.ERROR });
    return response;
  } catch (err) {
    recordSpanError(span, err);
    // The runtime's socket error code says more than the TypeError fetch wraps it in.
    span.setAttribute(ATTR_ERROR_TYPE, httpClientErrorType(err));
    throw err;
  } finally {
    span.end();
  }
}
