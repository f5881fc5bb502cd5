/**
 * The CLIENT span of an outgoing request (http-client-span.ts): its attributes after the HTTP
 * client conventions, and its context in the request's trace headers — against a real HTTP server
 * on loopback (node:http), which records what it was sent.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags } from "@opentelemetry/api";
import { TraceState, W3CTraceContextPropagator } from "@opentelemetry/core";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { tracedFetch } from "./http-client-span.ts";

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
const PARENT = {
  traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
  spanId: "00f067aa0ba902b7",
  traceFlags: TraceFlags.SAMPLED,
  traceState: new TraceState("vendor=v1"),
};

let server: Server;
let base: string;
const seen: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on("end", () => res.writeHead(req.url === "/fail" ? 503 : req.url === "/gone" ? 410 : 204).end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await provider.shutdown();
  trace.disable();
  propagation.disable();
});

describe("tracedFetch", () => {
  it("sends the CLIENT span's context as traceparent (and the parent's tracestate), keeping the caller's headers", async () => {
    exporter.reset();
    seen.length = 0;
    const res = await tracedFetch(
      `${base}/hook?x=1`,
      { method: "post", headers: { "idempotency-key": "e-1" }, body: "{}" },
      trace.setSpanContext(ROOT_CONTEXT, PARENT),
    );
    expect(res.status).toBe(204);
    const [span] = exporter.getFinishedSpans();
    expect(span!.name).toBe("POST");
    expect(span!.kind).toBe(SpanKind.CLIENT);
    expect(span!.parentSpanContext?.spanId).toBe(PARENT.spanId);
    expect(span!.spanContext().traceId).toBe(PARENT.traceId);
    expect(seen[0]!.traceparent).toBe(`00-${PARENT.traceId}-${span!.spanContext().spanId}-01`);
    expect(seen[0]!.tracestate).toBe("vendor=v1");
    expect(seen[0]!["idempotency-key"]).toBe("e-1");
    expect(span!.attributes).toEqual({
      "http.request.method": "POST",
      "url.full": `${base}/hook?x=1`,
      "server.address": "127.0.0.1",
      "server.port": Number(new URL(base).port),
      "http.response.status_code": 204,
    });
    expect(span!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it("marks a 5xx (and a 4xx) answer an error with error.type the status, and still returns the response", async () => {
    exporter.reset();
    const parent = trace.setSpanContext(ROOT_CONTEXT, PARENT);
    expect((await tracedFetch(`${base}/fail`, { method: "POST" }, parent)).status).toBe(503);
    expect((await tracedFetch(`${base}/gone`, { method: "POST" }, parent)).status).toBe(410);
    const [failed, gone] = exporter.getFinishedSpans();
    expect(failed!.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed!.attributes).toMatchObject({ "http.response.status_code": 503, "error.type": "503" });
    expect(gone!.status.code).toBe(SpanStatusCode.ERROR);
    expect(gone!.attributes["error.type"]).toBe("410");
  });

  it("marks a request nobody answered an error with the socket's error code, and rethrows the error", async () => {
    exporter.reset();
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await expect(
      tracedFetch(`http://127.0.0.1:${port}/hook`, { method: "POST" }, trace.setSpanContext(ROOT_CONTEXT, PARENT)),
    ).rejects.toThrow();
    const [span] = exporter.getFinishedSpans();
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes["error.type"]).toBe("ECONNREFUSED");
    expect(span!.attributes["http.response.status_code"]).toBeUndefined();
    expect(span!.events.map((e) => e.name)).toEqual(["exception"]);
  });
});
