/**
 * The outcome sampling policy's span processor (outcome-sampling.ts) in front of a real exporter,
 * with its own tracer (held spans) and with the SDK's:
 * what it exports at once, what it holds, what a keep sends on, what it lets go; and the slow-order
 * judge (slow-orders.ts) it is told by.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Tracer } from "@opentelemetry/api";
import { defaultResource } from "@opentelemetry/resources";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { EVENT_TYPE_ATTR } from "./messaging-attributes.ts";
import { HeldSpan } from "./held-span.ts";
import { HoldingTracerProvider } from "./holding-tracer.ts";
import { OutcomeSampler, OutcomeSpanProcessor, pickedById } from "./outcome-sampling.ts";
import { SlowOrderJudge } from "./slow-orders.ts";

/** Trace ids whose last 8 hex digits put them below / above a ratio of 0.5. */
const PICKED = "0af7651916cd43dd8448eb2100000001";
const NOT_PICKED = "0af7651916cd43dd8448eb21ffffff00";
const OTHER = "1bf7651916cd43dd8448eb21fffffff0";

const providers: TracerProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.shutdown()));
});

/**
 * How the policy's spans are made: held spans (the services' tracer, otel/holding-tracer.ts) or the
 * SDK's spans, every one recorded (the policy under the NodeSDK, which reads the sampler variable itself).
 */
const SETUPS = ["held spans", "SDK spans"] as const;

/** A tracer whose spans go through the policy (ratio 0.5) to an in-memory exporter; trace ids as given. */
function given(setup: (typeof SETUPS)[number], holdSpans = 100) {
  const exporter = new InMemorySpanExporter();
  const policy = new OutcomeSpanProcessor(new SimpleSpanProcessor({ exporter }), { happyRatio: 0.5, holdSpans });
  const announced: string[] = [];
  policy.announceWith((id) => announced.push(id));
  let nextTraceId = "";
  const resource = defaultResource();
  const provider = new TracerProvider({
    resource,
    spanProcessors: [policy],
    ...(setup === "held spans" ? { sampler: new OutcomeSampler(policy) } : {}),
    idGenerator: { generateTraceId: () => nextTraceId, generateSpanId: () => Math.random().toString(16).slice(2, 10).padEnd(16, "1") },
  });
  providers.push(provider);
  const limits = { attributeCountLimit: 128, attributeValueLengthLimit: Number.POSITIVE_INFINITY };
  const tracer: Tracer = (
    setup === "held spans" ? new HoldingTracerProvider(provider, { resource, limits, sink: policy }) : provider
  ).getTracer("test");
  const span = (traceId: string, name: string, f: (s: ReturnType<Tracer["startSpan"]>) => void = () => {}) => {
    nextTraceId = traceId;
    const s = tracer.startSpan(name, { kind: SpanKind.CONSUMER });
    f(s);
    s.end();
  };
  const exportedOf = (traceId: string) =>
    exporter
      .getFinishedSpans()
      .filter((s) => s.spanContext().traceId === traceId)
      .map((s) => s.name);
  return { policy, span, exportedOf, announced, tracer };
}

it("picks the same traces by id as a ratio sampler would, whatever the process", () => {
  expect(pickedById(PICKED, 0.5)).toBe(true);
  expect(pickedById(NOT_PICKED, 0.5)).toBe(false);
  expect(pickedById(NOT_PICKED, 1)).toBe(true);
  expect(pickedById(PICKED, 0)).toBe(false);
});

it("records a span of a trace neither picked nor kept as a held span, and one of a picked trace as the SDK's", () => {
  const { tracer } = given("held spans");
  const held = tracer.startSpan(
    "x",
    {},
    trace.setSpanContext(ROOT_CONTEXT, { traceId: NOT_PICKED, spanId: "a".repeat(16), traceFlags: 0 }),
  );
  const picked = tracer.startSpan("x", {}, trace.setSpanContext(ROOT_CONTEXT, { traceId: PICKED, spanId: "a".repeat(16), traceFlags: 0 }));
  expect(held).toBeInstanceOf(HeldSpan);
  expect(held.isRecording()).toBe(true);
  // Sampled, as under always_on: the services after it record the trace too.
  expect(held.spanContext().traceFlags).toBe(TraceFlags.SAMPLED);
  expect(picked).not.toBeInstanceOf(HeldSpan);
  expect(picked.isRecording()).toBe(true);
});

describe.each(SETUPS)("OutcomeSpanProcessor, %s", (setup) => {
  it("exports a picked trace's spans at once", () => {
    const { span, exportedOf, policy } = given(setup);
    span(PICKED, "process ORDER_CREATED");
    expect(exportedOf(PICKED)).toEqual(["process ORDER_CREATED"]);
    expect(policy.stats().held).toBe(0);
  });

  it("holds a happy trace not picked, and exports nothing of it", () => {
    const { span, exportedOf, policy } = given(setup);
    span(NOT_PICKED, "POST /orders");
    span(NOT_PICKED, "publish ORDER_CREATED", (s) => s.setAttribute(EVENT_TYPE_ATTR, "ORDER_CREATED"));
    expect(exportedOf(NOT_PICKED)).toEqual([]);
    expect(policy.stats()).toMatchObject({ held: 2, exported: 0 });
  });

  it("when a span of the compensating path ends, exports the trace's held spans, that one, every later one, and announces it", () => {
    const { span, exportedOf, announced } = given(setup);
    span(NOT_PICKED, "POST /orders");
    span(NOT_PICKED, "publish PAYMENT_FAILED", (s) => s.setAttribute(EVENT_TYPE_ATTR, "PAYMENT_FAILED"));
    span(NOT_PICKED, "process ORDER_CANCELLED");
    expect(exportedOf(NOT_PICKED)).toEqual(["POST /orders", "publish PAYMENT_FAILED", "process ORDER_CANCELLED"]);
    expect(announced).toEqual([NOT_PICKED]);
  });

  it("keeps a trace with an ERROR span or a failed request", () => {
    const { span, exportedOf } = given(setup);
    span(NOT_PICKED, "process ORDER_CREATED", (s) => s.setStatus({ code: SpanStatusCode.ERROR }));
    span(OTHER, "POST /orders", (s) => s.setAttribute("http.response.status_code", 422));
    expect(exportedOf(NOT_PICKED)).toEqual(["process ORDER_CREATED"]);
    expect(exportedOf(OTHER)).toEqual(["POST /orders"]);
  });

  it("still exports a kept trace when announcing it throws (a closing connection), and counts it", () => {
    const { span, exportedOf, policy } = given(setup);
    policy.announceWith(() => {
      throw new Error("connection draining");
    });
    expect(() => span(NOT_PICKED, "publish PAYMENT_FAILED", (s) => s.setAttribute(EVENT_TYPE_ATTR, "PAYMENT_FAILED"))).not.toThrow();
    expect(exportedOf(NOT_PICKED)).toEqual(["publish PAYMENT_FAILED"]);
    expect(policy.stats().unannounced).toBe(1);
  });

  it("keeps a trace another instance announced, without announcing it again", () => {
    const { span, exportedOf, policy, announced } = given(setup);
    span(NOT_PICKED, "process ORDER_CREATED");
    policy.keep(NOT_PICKED, false);
    span(NOT_PICKED, "process SHIPPING_READY");
    expect(exportedOf(NOT_PICKED)).toEqual(["process ORDER_CREATED", "process SHIPPING_READY"]);
    expect(announced).toEqual([]);
    expect(policy.stats().keptTraces).toBe(1);
  });

  it("finds a kept trace's spans among other traces', in the order they ended", () => {
    const { span, exportedOf, policy } = given(setup, 10);
    span(NOT_PICKED, "a1");
    span(OTHER, "o1");
    span(NOT_PICKED, "a2");
    span(OTHER, "o2");
    policy.keep(NOT_PICKED, false);
    expect(exportedOf(NOT_PICKED)).toEqual(["a1", "a2"]);
    expect(exportedOf(OTHER)).toEqual([]);
    expect(policy.stats().held).toBe(2);
  });

  it("lets the oldest spans go when the hold is full, and counts them", () => {
    const { span, exportedOf, policy } = given(setup, 2);
    span(NOT_PICKED, "a");
    span(NOT_PICKED, "b");
    span(OTHER, "c");
    expect(policy.stats()).toMatchObject({ held: 2, sampledOut: 1 });
    // Kept too late: its first span is gone, so the trace cannot be whole; what it held is not looked for.
    policy.keep(NOT_PICKED, false);
    expect(exportedOf(NOT_PICKED)).toEqual([]);
    policy.keep(OTHER, false);
    expect(exportedOf(OTHER)).toEqual(["c"]);
    expect(policy.stats().held).toBe(1);
  });
});

describe("SlowOrderJudge", () => {
  const at = (ms: number) => new Date(Date.UTC(2026, 11, 7) + ms).toISOString();
  /** `n` orders of `ms` each, the ORDER_CREATED and SHIPPING_READY of each; the verdicts. */
  const orders = (judge: SlowOrderJudge, n: number, ms: number, from = 0) =>
    Array.from({ length: n }, (_, i) => {
      const id = `o${from + i}`;
      judge.observe("ORDER_CREATED", id, at(0));
      return judge.observe("SHIPPING_READY", id, at(ms));
    });

  it("counts every order slow until a hundred were timed, then holds them to the p99 of the last ones", () => {
    const judge = new SlowOrderJudge();
    expect(orders(judge, 100, 10).every(Boolean)).toBe(true);
    expect(judge.p99Ms()).toBe(10);
    expect(orders(judge, 50, 10, 100).some(Boolean)).toBe(false);
    expect(orders(judge, 1, 11, 150)).toEqual([true]);
  });

  it("times only orders it saw created, and a cancelled order not at all", () => {
    const judge = new SlowOrderJudge();
    expect(judge.observe("SHIPPING_READY", "never-created", at(5))).toBe(false);
    judge.observe("ORDER_CREATED", "c", at(0));
    judge.observe("ORDER_CANCELLED", "c", at(5));
    expect(judge.observe("SHIPPING_READY", "c", at(9))).toBe(false);
  });
});
