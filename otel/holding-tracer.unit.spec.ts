/**
 * The outcome policy's tracer (holding-tracer.ts) as the OpenTelemetry API's Tracer: a span of a
 * trace neither picked nor kept is a held span with the parent it was given (none for a root), and
 * `startActiveSpan` in each of its three forms hands the span to the function and returns its result.
 */
import { describe, expect, it } from "vitest";
import { ROOT_CONTEXT, type Span, trace } from "@opentelemetry/api";
import { defaultResource } from "@opentelemetry/resources";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { HeldSpan } from "./held-span.ts";
import { HoldingTracerProvider } from "./holding-tracer.ts";
import { OutcomeSampler, OutcomeSpanProcessor } from "./outcome-sampling.ts";

/** Not picked at a ratio of 0: every span of this trace is held. */
const PARENT = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: "0af7651916cd43dd8448eb211c80319c",
  spanId: "b7ad6b7169203331",
  traceFlags: 1,
});

function givenTracer() {
  const policy = new OutcomeSpanProcessor(new SimpleSpanProcessor({ exporter: new InMemorySpanExporter() }), {
    happyRatio: 0,
    holdSpans: 10,
  });
  const resource = defaultResource();
  const sdk = new TracerProvider({ resource, sampler: new OutcomeSampler(policy), spanProcessors: [policy] });
  const limits = { attributeCountLimit: 128, attributeValueLengthLimit: Number.POSITIVE_INFINITY };
  const provider = new HoldingTracerProvider(sdk, { resource, limits, sink: policy });
  return { tracer: provider.getTracer("test", "1.0.0"), provider, policy };
}

describe("HoldingTracer", () => {
  it("gives a held span its parent, and a root span none and a trace of its own", () => {
    const { tracer } = givenTracer();
    const child = tracer.startSpan("child", {}, PARENT) as HeldSpan;
    expect(child).toBeInstanceOf(HeldSpan);
    expect(child.spanContext().traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(child.readable().parentSpanContext?.spanId).toBe("b7ad6b7169203331");
    child.end();
    const root = tracer.startSpan("root", { root: true }, PARENT) as HeldSpan;
    root.end();
    expect(root).toBeInstanceOf(HeldSpan);
    expect(root.spanContext().traceId).not.toBe("0af7651916cd43dd8448eb211c80319c");
    expect(root.readable().parentSpanContext).toBeUndefined();
  });

  it("hands the span to startActiveSpan's function and returns what it returns, in each form", () => {
    const { tracer } = givenTracer();
    const seen: Span[] = [];
    const run = (span: Span) => {
      seen.push(span);
      span.end();
      return seen.length;
    };
    expect(tracer.startActiveSpan("a", run)).toBe(1);
    expect(tracer.startActiveSpan("b", {}, run)).toBe(2);
    expect(tracer.startActiveSpan("c", {}, PARENT, run)).toBe(3);
    expect(seen[2]!.spanContext().traceId).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(seen.every((s) => !s.isRecording())).toBe(true);
  });

  it("is one tracer per name, version and schema", () => {
    const { provider } = givenTracer();
    expect(provider.getTracer("x", "1")).toBe(provider.getTracer("x", "1"));
    expect(provider.getTracer("x", "1")).not.toBe(provider.getTracer("x", "2"));
  });
});
