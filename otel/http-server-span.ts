/**
 * The SERVER span of each HTTP request, a child of the caller's `traceparent`. Its context is kept
 * on the request (`requestTrace(c)`), not in async-local storage (otel/sdk.ts says why): a route
 * that publishes passes it on, so an order's events hang under the POST /orders that created it.
 *
 * Named and attributed after the OpenTelemetry HTTP server conventions (docs/operations.md,
 * "Tracing", names the version): `{method} {http.route}`; http.request.method, url.path,
 * url.scheme, url.query, http.route, server.address/server.port (from the Host header),
 * client.address/client.port and network.protocol.version (when the runtime tells them),
 * user_agent.original, http.response.status_code, error.type; status ERROR on a 5xx answer or an
 * error no handler answered. `service.name` is the resource's (otel/sdk.ts), not a span attribute.
 */
import {
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
} from "@opentelemetry/api";
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_CLIENT_PORT,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from "@opentelemetry/semantic-conventions";
import type { Context as HonoContext, MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { recordSpanError } from "./span-error.ts";

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
    headers.forEach((_value, key) => {
      keys.push(key);
    });
    return keys;
  },
};

/** What the runtime knows of a request's connection (host/runtime/): none of it is in a Web Request. */
export interface ConnectionFacts {
  clientAddress?: string;
  clientPort?: number;
  /** "1.1", "2", … */
  protocolVersion?: string;
}

export interface HttpServerSpanOptions {
  /** Reads the connection facts from the runtime's per-request value (Hono's `c.env`). */
  connection?: (env: unknown) => ConnectionFacts | undefined;
}

/** The methods the HTTP conventions know; any other is `_OTHER`, the original kept beside it. */
const KNOWN_METHODS = new Set(["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"]);

/** `http.request.method` as the conventions want it, and the name to start the span with. */
function methodOf(method: string): { attribute: string; original?: string } {
  return KNOWN_METHODS.has(method) ? { attribute: method } : { attribute: "_OTHER", original: method };
}

/**
 * The span name: `{method} {route}`, or the method alone when no route matched (a 404 must not
 * name the span after its path: that is unbounded). `HTTP` stands for a method the conventions
 * do not know.
 */
export function httpServerSpanName(method: string, route: string | undefined): string {
  const m = methodOf(method);
  const shown = m.original === undefined ? m.attribute : "HTTP";
  return route ? `${shown} ${route}` : shown;
}

/** The attributes known when the request arrives. */
export function httpServerRequestAttributes(request: Request, connection: ConnectionFacts = {}): Attributes {
  const url = splitUrl(request.url);
  const method = methodOf(request.method);
  const server = hostAndPort(request.headers.get("host") ?? url.authority);
  const userAgent = request.headers.get("user-agent");
  // Assigned one by one rather than spread: this runs for every request of every recorded trace.
  const attributes: Attributes = { [ATTR_HTTP_REQUEST_METHOD]: method.attribute };
  if (method.original !== undefined) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = method.original;
  attributes[ATTR_URL_PATH] = url.path;
  attributes[ATTR_URL_SCHEME] = url.scheme;
  if (url.query) attributes[ATTR_URL_QUERY] = url.query;
  if (server.address) attributes[ATTR_SERVER_ADDRESS] = server.address;
  if (server.port !== undefined) attributes[ATTR_SERVER_PORT] = server.port;
  if (userAgent) attributes[ATTR_USER_AGENT_ORIGINAL] = userAgent;
  if (connection.clientAddress) attributes[ATTR_CLIENT_ADDRESS] = connection.clientAddress;
  if (connection.clientPort !== undefined) attributes[ATTR_CLIENT_PORT] = connection.clientPort;
  if (connection.protocolVersion) attributes[ATTR_NETWORK_PROTOCOL_VERSION] = connection.protocolVersion;
  return attributes;
}

/**
 * A request's absolute URL (`scheme://authority/path?query`, as the runtimes build it) cut into its
 * parts: by hand, because a full `new URL` parse costs several µs on every request.
 */
function splitUrl(href: string): { scheme: string; authority: string; path: string; query: string } {
  const schemeEnd = href.indexOf("://");
  const authorityStart = schemeEnd < 0 ? 0 : schemeEnd + 3;
  let pathStart = href.indexOf("/", authorityStart);
  const queryStart = href.indexOf("?", authorityStart);
  if (pathStart < 0 || (queryStart >= 0 && queryStart < pathStart)) pathStart = queryStart < 0 ? href.length : queryStart;
  const pathEnd = queryStart < 0 ? href.length : queryStart;
  return {
    scheme: schemeEnd < 0 ? "" : href.slice(0, schemeEnd).toLowerCase(),
    authority: href.slice(authorityStart, pathStart),
    path: href.slice(pathStart, pathEnd) || "/",
    query: queryStart < 0 ? "" : href.slice(queryStart + 1),
  };
}

/** `host[:port]` of a Host header, IPv6 brackets taken off; no port when the header gives none. */
function hostAndPort(host: string): { address: string; port?: number } {
  // Clients send the same Host header request after request: the last one's answer is kept.
  if (host === lastHost) return lastServer;
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(host.trim());
  const server = match
    ? { address: match[1]!.replace(/^\[(.*)\]$/, "$1"), ...(match[2] ? { port: Number(match[2]) } : {}) }
    : { address: host };
  lastHost = host;
  lastServer = server;
  return server;
}
let lastHost: string | undefined;
let lastServer: { address: string; port?: number } = { address: "" };

/**
 * Starts and ends the SERVER span of every request.
 *
 * @example app.use(httpServerSpans({ connection: (env) => ({ protocolVersion: "1.1" }) }))
 */
export function httpServerSpans(options: HttpServerSpanOptions = {}): MiddlewareHandler {
  return async (c, next) => {
    const parent = propagation.extract(ROOT_CONTEXT, c.req.raw.headers, headerGetter);
    // Named by the method until the route is known (finish renames it).
    const span = tracer.startSpan(httpServerSpanName(c.req.method, undefined), { kind: SpanKind.SERVER }, parent);
    // Attributes only for a span that is kept: an unsampled one (tracing off) costs no more than its ids.
    if (span.isRecording()) {
      span.setAttributes(httpServerRequestAttributes(c.req.raw, safeConnection(options, c.env)));
    }
    c.set("requestTrace", trace.setSpan(parent, span));
    try {
      await next();
      finish(c, span, c.error);
    } catch (err) {
      finish(c, span, err, true);
      throw err;
    } finally {
      span.end();
    }
  };
}

function safeConnection(options: HttpServerSpanOptions, env: unknown): ConnectionFacts {
  try {
    return options.connection?.(env) ?? {};
  } catch {
    // A runtime that changed the shape of its per-request value costs these attributes, not the request.
    return {};
  }
}

/** The request's trace context (its SERVER span), or the empty context outside httpServerSpans. */
export function requestTrace(c: HonoContext): Context {
  return c.get("requestTrace") ?? ROOT_CONTEXT;
}

/** The request's SERVER span, to add attributes to. */
export function requestSpan(c: HonoContext): Span | undefined {
  return trace.getSpan(requestTrace(c));
}

/** The matched route, or undefined when only middleware matched (a 404). */
function matchedRoute(c: HonoContext): string | undefined {
  const route = routePath(c);
  return route === "" || route === "*" || route === "/*" ? undefined : route;
}

/** `escaped`: the error passed every handler, so the runtime answers for it (a 500). */
function finish(c: HonoContext, span: Span, error: unknown, escaped = false): void {
  if (!span.isRecording()) return;
  // The matched route is known only now (the span started before routing).
  const route = matchedRoute(c);
  span.updateName(httpServerSpanName(c.req.method, route));
  if (route) span.setAttribute(ATTR_HTTP_ROUTE, route);
  const status = c.res.status;
  span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
  // A server span is an error only for 5xx: a 4xx (a thrown problem included) is the client's
  // mistake, answered as designed, and the conventions leave its status unset.
  if (status < 500 && !escaped) return;
  if (error) recordSpanError(span, error);
  else {
    span.setAttribute(ATTR_ERROR_TYPE, String(status));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
}
