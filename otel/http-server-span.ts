/**
 * The SERVER span of each HTTP request, a child of the caller's `traceparent`. Its context is kept
 * on the request (`requestTrace(c)`), not in async-local storage (otel/sdk.ts says why): a route
 * that publishes passes it on, so an order's events hang under the POST /orders that created it.
 *
 * Named and attributed as `@hono/otel`'s middleware, which it replaces (that one needs an active
 * context): `<METHOD> <route>`, http.request.method, url.full, http.route,
 * http.response.status_code; status ERROR on a 5xx answer or a thrown error.
 */
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type TextMapGetter } from "@opentelemetry/api";
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_NAME,
  ATTR_URL_FULL,
} from "@opentelemetry/semantic-conventions";
import type { Context as HonoContext, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";

declare module "hono" {
  interface ContextVariableMap {
    /** The request's trace context: its SERVER span under the caller's trace. */
    requestTrace: Context;
  }
}

const tracer = trace.getTracer("orderstream.http");

const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => {
    const keys: string[] = [];
    headers.forEach((_value, key) => keys.push(key));
    return keys;
  },
};

/** Starts and ends the SERVER span of every request; `serviceName` goes on it as @hono/otel put it. */
export function httpServerSpans(serviceName: string): MiddlewareHandler {
  return async (c, next) => {
    const parent = propagation.extract(ROOT_CONTEXT, c.req.raw.headers, headerGetter);
    const span = tracer.startSpan(`${c.req.method} ${routePath(c)}`, { kind: SpanKind.SERVER }, parent);
    // Attributes only for a span that is kept: an unsampled one (tracing off) costs no more than its ids.
    if (span.isRecording()) {
      span.setAttributes({
        [ATTR_HTTP_REQUEST_METHOD]: c.req.method,
        [ATTR_SERVICE_NAME]: serviceName,
        [ATTR_URL_FULL]: c.req.url,
      });
    }
    c.set("requestTrace", trace.setSpan(parent, span));
    try {
      await next();
      finish(c, span, c.error);
    } catch (err) {
      finish(c, span, err);
      throw err;
    } finally {
      span.end();
    }
  };
}

/** The request's trace context (its SERVER span), or the empty context outside httpServerSpans. */
export function requestTrace(c: HonoContext): Context {
  return c.get("requestTrace") ?? ROOT_CONTEXT;
}

/** The request's SERVER span, to add attributes to. */
export function requestSpan(c: HonoContext): Span | undefined {
  return trace.getSpan(requestTrace(c));
}

function finish(c: HonoContext, span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  // The matched route is known only now (the span started before routing).
  const route = routePath(c);
  span.updateName(`${c.req.method} ${route}`);
  span.setAttribute(ATTR_HTTP_ROUTE, route);
  const status = c.res.status;
  span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
  if (error) span.recordException(error as Error);
  if (status >= 500 || error) span.setStatus({ code: SpanStatusCode.ERROR });
}
