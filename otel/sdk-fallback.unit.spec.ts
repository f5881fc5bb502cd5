import { context, propagation, trace } from "@opentelemetry/api";
import { afterAll, expect, it, vi } from "vitest";
import { startTracing } from "./sdk.ts";

afterAll(() => vi.unstubAllEnvs());

// Its own file: the OpenTelemetry API keeps one global setup per process.
it("loads the full NodeSDK when a variable asks for what the light path does not build (here B3)", async () => {
  vi.stubEnv("OTEL_TRACES_EXPORTER", "none");
  vi.stubEnv("OTEL_PROPAGATORS", "b3");
  const tracing = await startTracing("spec-service", process.env);
  const span = trace.getTracer("spec").startSpan("s");
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), carrier);
  const { traceId, spanId } = span.spanContext();
  expect(carrier).toEqual({ b3: `${traceId}-${spanId}-1` });
  span.end();
  await tracing.shutdown();
});
