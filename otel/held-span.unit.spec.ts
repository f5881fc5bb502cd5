/**
 * A held span (held-span.ts) exports what the SDK's span would, given the same calls: the same
 * calls are made on one of each, side by side, and what reaches the exporter is compared.
 */
import { describe, expect, it } from "vitest";
import { ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { hrTimeToMilliseconds } from "@opentelemetry/core";
import { defaultResource } from "@opentelemetry/resources";
import { AlwaysOnSampler, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { HeldSpan } from "./held-span.ts";

const resource = defaultResource();
const LIMITS = { attributeCountLimit: 128, attributeValueLengthLimit: Number.POSITIVE_INFINITY };
const PARENT = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: "0af7651916cd43dd8448eb211c80319c",
  spanId: "b7ad6b7169203331",
  traceFlags: 1,
});
const LINK = { context: { traceId: "1bf7651916cd43dd8448eb211c80319c", spanId: "c7ad6b7169203331", traceFlags: 1 } };

/** The same calls on the SDK's span and on a held one; both as the exporter sees them. */
function bothAfter(calls: (span: Span) => void, limits = LIMITS): { sdk: ReadableSpan; held: ReadableSpan } {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource,
    sampler: new AlwaysOnSampler(),
    spanLimits: limits,
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const options = { kind: SpanKind.CONSUMER, links: [LINK], attributes: { "messaging.system": "nats" } };
  const sdkSpan = provider.getTracer("test", "1.0.0").startSpan("process orders", options, PARENT);
  let ended: HeldSpan | undefined;
  const origin = {
    resource,
    scope: { name: "test", version: "1.0.0", schemaUrl: undefined },
    limits,
    heldSpanEnded: (s: HeldSpan) => (ended = s),
  };
  const parent = trace.getSpanContext(PARENT);
  const heldSpan = new HeldSpan(
    origin,
    sdkSpan.spanContext(),
    "process orders",
    options.kind,
    parent,
    options.links,
    options.attributes,
    undefined,
  );
  calls(sdkSpan);
  calls(heldSpan);
  sdkSpan.end();
  heldSpan.end();
  if (!ended) throw new Error("the held span did not say it ended");
  return { sdk: exporter.getFinishedSpans()[0]!, held: ended.readable() };
}

/** What an exporter reads of a span, times aside. */
function exported(span: ReadableSpan) {
  return {
    name: span.name,
    kind: span.kind,
    spanContext: span.spanContext(),
    parentSpanContext: span.parentSpanContext,
    status: span.status,
    attributes: span.attributes,
    links: span.links,
    events: span.events.map(({ name, attributes }) => ({ name, attributes })),
    resource: span.resource,
    instrumentationScope: span.instrumentationScope,
    ended: span.ended,
    droppedAttributesCount: span.droppedAttributesCount,
  };
}

describe("HeldSpan", () => {
  it("exports what the SDK's span exports: attributes, status, a new name, events, links, an exception", () => {
    const error = new TypeError("boom");
    const { sdk, held } = bothAfter((span) => {
      span.setAttribute("messaging.message.id", "e1");
      span.setAttributes({ "messaging.destination.name": "orders.3.o1.ORDER_CREATED", "messaging.nats.stream.sequence": 7 });
      span.updateName("process orders.{partition}.{orderId}.ORDER_CREATED");
      span.addEvent("retried", { attempt: 2 });
      span.addLink({ context: { ...LINK.context, spanId: "d7ad6b7169203331" } });
      span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: "boom" });
      span.setStatus({ code: SpanStatusCode.UNSET });
    });
    expect(exported(held)).toEqual(exported(sdk));
    expect(held.status).toEqual({ code: SpanStatusCode.ERROR, message: "boom" });
    expect(held.events[0]!.name).toBe("retried");
  });

  it("keeps OK once set, and changes nothing once ended", () => {
    const { sdk, held } = bothAfter((span) => {
      span.setStatus({ code: SpanStatusCode.OK });
      span.setStatus({ code: SpanStatusCode.ERROR });
    });
    expect(held.status).toEqual({ code: SpanStatusCode.OK });
    expect(exported(held)).toEqual(exported(sdk));

    let after: HeldSpan | undefined;
    const origin = { resource, scope: { name: "test" }, limits: LIMITS, heldSpanEnded: (s: HeldSpan) => (after = s) };
    const span = new HeldSpan(origin, sdk.spanContext(), "n", SpanKind.INTERNAL, undefined, undefined, undefined, undefined);
    span.end();
    span.setAttribute("late", 1).updateName("late");
    span.end();
    expect(span.isRecording()).toBe(false);
    expect(after?.readable()).toMatchObject({ name: "n", attributes: {} });
  });

  it("applies the SDK's attribute limits when exported", () => {
    const limits = { attributeCountLimit: 2, attributeValueLengthLimit: 3 };
    const { sdk, held } = bothAfter((span) => span.setAttributes({ a: "abcdef", b: "x" }), limits);
    expect(held.attributes).toEqual({ "messaging.system": "nat", a: "abc" });
    expect(exported(held)).toEqual(exported(sdk));
  });

  it("starts and ends on the same clock as the SDK's span", () => {
    const { sdk, held } = bothAfter(() => {
      const until = performance.now() + 5;
      while (performance.now() < until) {}
    });
    expect(Math.abs(hrTimeToMilliseconds(held.startTime) - hrTimeToMilliseconds(sdk.startTime))).toBeLessThan(5);
    expect(hrTimeToMilliseconds(held.duration)).toBeGreaterThanOrEqual(5);
    expect(Math.abs(hrTimeToMilliseconds(held.duration) - hrTimeToMilliseconds(sdk.duration))).toBeLessThan(5);
    expect(hrTimeToMilliseconds(held.endTime)).toBeCloseTo(hrTimeToMilliseconds(held.startTime) + hrTimeToMilliseconds(held.duration), 3);
  });
});
