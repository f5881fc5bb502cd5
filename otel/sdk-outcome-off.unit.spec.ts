/**
 * `OTEL_TRACES_SAMPLER=orderstream_outcome` with `OTEL_TRACES_EXPORTER=none`: with nothing exported
 * the policy has nothing to keep, so it is not set up and spans are not recorded, as with tracing off.
 */
import { trace, TraceFlags } from "@opentelemetry/api";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { outcomeSampling } from "./outcome-sampling.ts";
import { startTracing, type Tracing } from "./sdk.ts";

let tracing: Tracing;
beforeAll(async () => {
  vi.stubEnv("OTEL_TRACES_EXPORTER", "none");
  vi.stubEnv("OTEL_TRACES_SAMPLER", "orderstream_outcome");
  tracing = await startTracing("spec-service", process.env);
});
afterAll(async () => {
  await tracing.shutdown();
  vi.unstubAllEnvs();
});

it("records no span and holds none when nothing is exported", () => {
  const span = trace.getTracer("spec").startSpan("s");
  expect(span.isRecording()).toBe(false);
  expect(span.spanContext().traceFlags).toBe(TraceFlags.NONE);
  expect(outcomeSampling()).toBeUndefined();
  span.end();
});
