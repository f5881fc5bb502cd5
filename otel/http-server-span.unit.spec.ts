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
import { httpServerSpans, requestSpan, requestTrace } from "./http-server-span.ts";

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
  app.use(httpServerSpans("spec-service"));
  app.get("/orders/:orderId", (c) => {
    requestSpan(c)?.setAttribute("orderstream.order_id", c.req.param("orderId"));
    // What a route hands to a publish: the context of this request's span.
    return c.json({ spanId: trace.getSpanContext(requestTrace(c))?.spanId });
  });
  app.get("/boom", () => {
    throw new Error("internal detail");
  });
  app.onError((_err, c) => c.json({ title: "failed" }, 500));
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
      "service.name": "spec-service",
    });
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
  });
});
