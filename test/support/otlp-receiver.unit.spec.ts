import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { normaliseOtlpId, startOtlpReceiver, type OtlpReceiver } from "./otlp-receiver.ts";

describe("otlp receiver", () => {
  let receiver: OtlpReceiver;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
  });

  it("receives spans from the real OTLP/HTTP JSON exporter", async () => {
    receiver.clear();
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ "service.name": "receiver-test" }),
      spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${receiver.url}/v1/traces` }) })],
    });
    const tracer = provider.getTracer("otlp-receiver.unit.spec");

    const parent = tracer.startSpan("POST /orders", { kind: SpanKind.SERVER, attributes: { "http.request.method": "POST" } });
    const child = tracer.startSpan(
      "publish orders.created",
      {
        kind: SpanKind.PRODUCER,
        attributes: { "messaging.system": "nats", "retry.count": 3, ratio: 0.25, ok: true, tags: ["a", "b"] },
      },
      trace.setSpan(context.active(), parent),
    );
    child.addEvent("published", { seq: 7 });
    child.setStatus({ code: SpanStatusCode.ERROR, message: "boom" });
    child.end();
    parent.end();
    await provider.forceFlush();

    const spans = await receiver.waitFor((s) => s.length >= 2, 5000);
    const p = spans.find((s) => s.name === "POST /orders")!;
    const c = spans.find((s) => s.name === "publish orders.created")!;
    expect(p).toBeDefined();
    expect(c).toBeDefined();

    // ids: lowercase hex equal to what the SDK generated
    expect(p.traceId).toBe(parent.spanContext().traceId);
    expect(p.spanId).toBe(parent.spanContext().spanId);
    expect(c.spanId).toBe(child.spanContext().spanId);
    expect(p.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(c.spanId).toMatch(/^[0-9a-f]{16}$/);

    // parent link
    expect(p.parentSpanId).toBeNull();
    expect(c.traceId).toBe(p.traceId);
    expect(c.parentSpanId).toBe(p.spanId);

    // kind (OTLP enum = api SpanKind + 1)
    expect(p.kind).toBe(2);
    expect(c.kind).toBe(4);

    // resource + attributes
    expect(p.serviceName).toBe("receiver-test");
    expect(c.serviceName).toBe("receiver-test");
    expect(p.attributes).toEqual({ "http.request.method": "POST" });
    expect(c.attributes).toEqual({ "messaging.system": "nats", "retry.count": 3, ratio: 0.25, ok: true, tags: ["a", "b"] });
    expect(c.events).toEqual([{ name: "published", attributes: { seq: 7 } }]);
    expect(c.status).toEqual({ code: 2, message: "boom" });
    expect(BigInt(c.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(c.startTimeUnixNano));

    const traces = receiver.traces();
    expect(
      traces
        .get(p.traceId)
        ?.map((s) => s.name)
        .sort(),
    ).toEqual(["POST /orders", "publish orders.created"]);

    await provider.shutdown();
  });

  it("normalises base64 ids (older exporters) to hex", async () => {
    receiver.clear();
    const traceHex = "0af7651916cd43dd8448eb211c80319c";
    const spanHex = "b7ad6b7169203331";
    const parentHex = "00f067aa0ba902b7";
    const b64 = (hex: string) => Buffer.from(hex, "hex").toString("base64");
    const res = await fetch(`${receiver.url}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        resourceSpans: [
          {
            resource: { attributes: [{ key: "service.name", value: { stringValue: "legacy" } }] },
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: b64(traceHex),
                    spanId: b64(spanHex),
                    parentSpanId: b64(parentHex),
                    name: "legacy-span",
                    kind: "SPAN_KIND_CONSUMER",
                    startTimeUnixNano: "1",
                    endTimeUnixNano: "2",
                    attributes: [{ key: "n", value: { intValue: "42" } }],
                    status: {},
                  },
                ],
              },
            ],
          },
        ],
      }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    const [span] = receiver.spans();
    expect(span).toMatchObject({
      traceId: traceHex,
      spanId: spanHex,
      parentSpanId: parentHex,
      kind: 5,
      serviceName: "legacy",
      attributes: { n: 42 },
      status: { code: 0 },
    });
    expect(normaliseOtlpId("0AF7651916CD43DD8448EB211C80319C", 16)).toBe(traceHex);
    expect(normaliseOtlpId("", 8)).toBeNull();
  });

  it("rejects protobuf with 415 and explains itself on waitFor timeout", async () => {
    receiver.clear();
    const res = await fetch(`${receiver.url}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/x-protobuf" },
      body: new Uint8Array([0x0a, 0x00]),
    });
    expect(res.status).toBe(415);
    expect(await res.text()).toMatch(/only accepts OTLP\/HTTP JSON/);
    await expect(receiver.waitFor((s) => s.length > 0, 200)).rejects.toThrow(
      /timed out after 200 ms[\s\S]*received 0 span\(s\)[\s\S]*415 \/v1\/traces/,
    );
  });
});
