import { setTimeout as sleep } from "node:timers/promises";
import { context, propagation, ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startTracing, type Tracing } from "./sdk.ts";

// One process-wide setup per file: the OpenTelemetry API keeps its globals for the process.
describe("startTracing without the NodeSDK (OTEL_* as the NodeSDK reads them)", () => {
  let tracing: Tracing;
  beforeAll(async () => {
    vi.stubEnv("OTEL_TRACES_EXPORTER", "none");
    vi.stubEnv("OTEL_TRACES_SAMPLER", "parentbased_always_off");
    vi.stubEnv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=spec");
    vi.stubEnv("OTEL_SERVICE_NAME", "");
    vi.stubEnv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "2");
    tracing = await startTracing("spec-service", process.env);
  });
  afterAll(async () => {
    await tracing.shutdown();
    vi.unstubAllEnvs();
  });

  it("gives spans ids with export off and injects traceparent and baggage from a context passed along", async () => {
    const span = trace.getTracer("spec").startSpan("outer");
    const { traceId, spanId, traceFlags } = span.spanContext();
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(traceFlags).toBe(TraceFlags.NONE); // a root span under parentbased_always_off
    const carrier: Record<string, string> = {};
    const ctx = propagation.setBaggage(trace.setSpan(ROOT_CONTEXT, span), propagation.createBaggage({ k: { value: "v" } }));
    propagation.inject(ctx, carrier);
    expect(carrier.traceparent).toBe(`00-${traceId}-${spanId}-00`);
    expect(carrier.baggage).toBe("k=v");
    span.end();
  });

  it("installs no context manager: trace contexts are passed explicitly, no promise pays for async-local storage", async () => {
    await trace.getTracer("spec").startActiveSpan("outer", async (span) => {
      await sleep(1);
      expect(trace.getActiveSpan()).toBeUndefined();
      expect(context.active()).toBe(ROOT_CONTEXT);
      span.end();
    });
  });

  it("records the child of a sampled parent, with the resource from the service name, OTEL_RESOURCE_ATTRIBUTES and the detectors, and span limits", () => {
    const parent = propagation.extract(context.active(), { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" });
    const span = trace.getTracer("spec").startSpan("s", { attributes: { a: 1, b: 2, c: 3 } }, parent) as unknown as ReadableSpan;
    expect(span.spanContext().traceFlags).toBe(TraceFlags.SAMPLED);
    const attrs = span.resource.attributes;
    expect(attrs["service.name"]).toBe("spec-service");
    expect(attrs["deployment.environment.name"]).toBe("spec");
    expect(attrs["process.pid"]).toBe(process.pid);
    expect(attrs["service.instance.id"]).toEqual(expect.any(String));
    expect(Object.keys(span.attributes)).toHaveLength(2); // OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT
  });
});
