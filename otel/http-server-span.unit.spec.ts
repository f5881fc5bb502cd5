/**
 * The SERVER span middleware (http-server-span.ts): one span per request under the caller's
 * traceparent, named by the matched route, with the status code, ERROR on 5xx; and its context
 * reachable from the route without any context manager.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hono } from "hono";
import { propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import {
  httpServerRequestAttributes,
  httpServerSpanName,
  httpServerSpans,
  requestSpan,
  requestTrace,
  type ConnectionFacts,
} from "./http-server-span.ts";

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });

beforeAll(() => {
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  propagation.disable();
});

function app(): Hono {
  const app = new Hono();
  app.use(httpServerSpans({ connection: (env) => (env as { conn?: ConnectionFacts } | undefined)?.conn }));
  app.get("/orders/:orderId", (c) => {
    requestSpan(c)?.setAttribute("orderstream.order_id", c.req.param("orderId"));
    // What a route hands to a publish: the context of this request's span.
    return c.json({ spanId: trace.getSpanContext(requestTrace(c))?.spanId });
  });
  app.get("/boom", () => {
    throw new Error("internal detail");
  });
  app.get("/teapot", () => {
    throw Object.assign(new Error("no such thing"), { status: 404 });
  });
  app.onError((err, c) => c.json({ title: "failed" }, "status" in err ? 404 : 500));
  return app;
}

describe("httpServerSpans", () => {
  it("makes the request a SERVER span under the caller's traceparent, named by its route", async () => {
    exporter.reset();
    const res = await app().request("/orders/o-1", { headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } });
    const [span] = exporter.getFinishedSpans();
    expect(span).toBeDefined();
    expect(span!.name).toBe("GET /orders/:orderId");
    expect(span!.kind).toBe(SpanKind.SERVER);
    expect(span!.spanContext().traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
    expect(span!.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
    expect(await res.json()).toEqual({ spanId: span!.spanContext().spanId });
    expect(span!.attributes).toMatchObject({
      "http.request.method": "GET",
      "http.route": "/orders/:orderId",
      "http.response.status_code": 200,
      "orderstream.order_id": "o-1",
      "url.path": "/orders/o-1",
      "url.scheme": "http",
      "server.address": "localhost",
    });
    // A client attribute and a resource attribute, neither of which belongs on a SERVER span.
    expect(span!.attributes["url.full"]).toBeUndefined();
    expect(span!.attributes["service.name"]).toBeUndefined();
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it("starts a new trace without a traceparent and marks a failed request as an error", async () => {
    exporter.reset();
    const res = await app().request("/boom");
    expect(res.status).toBe(500);
    const [span] = exporter.getFinishedSpans();
    expect(span!.parentSpanContext).toBeUndefined();
    expect(span!.attributes["http.response.status_code"]).toBe(500);
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.events.map((e) => e.name)).toEqual(["exception"]);
    expect(span!.attributes["error.type"]).toBe("Error");
  });

  it("leaves a 4xx answer's status unset, even when a handler threw it", async () => {
    exporter.reset();
    const res = await app().request("/teapot");
    expect(res.status).toBe(404);
    const [span] = exporter.getFinishedSpans();
    expect(span!.name).toBe("GET /teapot");
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    expect(span!.attributes["error.type"]).toBeUndefined();
  });

  it("names a request no route matched by its method alone, without http.route", async () => {
    exporter.reset();
    const res = await app().request("/nowhere/12345");
    expect(res.status).toBe(404);
    const [span] = exporter.getFinishedSpans();
    expect(span!.name).toBe("GET");
    expect(span!.attributes["http.route"]).toBeUndefined();
    expect(span!.attributes["url.path"]).toBe("/nowhere/12345");
  });

  it("takes the client's address and the protocol version from the runtime's connection facts", async () => {
    exporter.reset();
    const conn: ConnectionFacts = { clientAddress: "10.1.2.3", clientPort: 51234, protocolVersion: "1.1" };
    await app().request("/orders/o-2", {}, { conn });
    const [span] = exporter.getFinishedSpans();
    expect(span!.attributes).toMatchObject({ "client.address": "10.1.2.3", "client.port": 51234, "network.protocol.version": "1.1" });
  });
});

describe("httpServerRequestAttributes", () => {
  it("given a request with a query, a Host header with a port and a user agent, then the server attributes of the HTTP conventions", () => {
    const request = new Request("http://internal:3000/orders?fromSeq=4", {
      headers: { host: "shop.example:8443", "user-agent": "curl/8.5.0" },
    });
    expect(httpServerRequestAttributes(request)).toEqual({
      "http.request.method": "GET",
      "url.path": "/orders",
      "url.scheme": "http",
      "url.query": "fromSeq=4",
      "server.address": "shop.example",
      "server.port": 8443,
      "user_agent.original": "curl/8.5.0",
    });
  });

  it("given no Host header and no query, then server.address/port from the URL and no url.query", () => {
    const attrs = httpServerRequestAttributes(new Request("HTTP://127.0.0.1:3003/users/u-1/notifications?"));
    expect(attrs).toMatchObject({
      "url.scheme": "http",
      "url.path": "/users/u-1/notifications",
      "server.address": "127.0.0.1",
      "server.port": 3003,
    });
    expect(attrs["url.query"]).toBeUndefined();
    expect(httpServerRequestAttributes(new Request("http://h"))).toMatchObject({ "url.path": "/", "server.address": "h" });
  });

  it("given an IPv6 Host header, then the address without brackets", () => {
    const request = new Request("http://[::1]:3000/x", { headers: { host: "[::1]:3000" } });
    expect(httpServerRequestAttributes(request)).toMatchObject({ "server.address": "::1", "server.port": 3000 });
  });

  it("given a method the conventions do not know, then _OTHER with the original beside it, and the span named HTTP", () => {
    const request = new Request("http://h/x", { method: "PURGE" });
    expect(httpServerRequestAttributes(request)).toMatchObject({
      "http.request.method": "_OTHER",
      "http.request.method_original": "PURGE",
    });
    expect(httpServerSpanName("PURGE", "/x")).toBe("HTTP /x");
    expect(httpServerSpanName("POST", "/orders")).toBe("POST /orders");
    expect(httpServerSpanName("GET", undefined)).toBe("GET");
  });
});
