import { ROOT_CONTEXT, propagation, trace, TraceFlags, type SpanContext } from "@opentelemetry/api";
import { W3CTraceContextPropagator, TraceState } from "@opentelemetry/core";
import { headers } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractTraceContext, injectTraceHeaders } from "./nats-headers.ts";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID = "00f067aa0ba902b7";

function contextWith(sc: SpanContext) {
  return trace.setSpanContext(ROOT_CONTEXT, sc);
}

describe("trace context in NATS headers", () => {
  beforeAll(() => {
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  });
  afterAll(() => {
    propagation.disable();
  });

  it("injects traceparent and tracestate and extracts the same span context back", () => {
    const hdrs = headers();
    hdrs.set("Nats-Msg-Id", "event-1");
    const sent: SpanContext = {
      traceId: TRACE_ID,
      spanId: SPAN_ID,
      traceFlags: TraceFlags.SAMPLED,
      traceState: new TraceState("vendor=opaque,other=x-1"),
    };

    injectTraceHeaders(hdrs, contextWith(sent));

    expect(hdrs.get("traceparent")).toBe(`00-${TRACE_ID}-${SPAN_ID}-01`);
    expect(hdrs.get("tracestate")).toBe("vendor=opaque,other=x-1");
    expect(hdrs.get("Nats-Msg-Id")).toBe("event-1");

    const received = trace.getSpanContext(extractTraceContext(hdrs, ROOT_CONTEXT));
    expect(received).toBeDefined();
    expect(received!.traceId).toBe(TRACE_ID);
    expect(received!.spanId).toBe(SPAN_ID);
    expect(received!.traceFlags).toBe(TraceFlags.SAMPLED);
    expect(received!.isRemote).toBe(true);
    expect(received!.traceState?.serialize()).toBe("vendor=opaque,other=x-1");
    expect(received!.traceState?.get("vendor")).toBe("opaque");
  });

  it("keeps an unsampled flag and writes no tracestate when there is none", () => {
    const hdrs = headers();
    injectTraceHeaders(hdrs, contextWith({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.NONE }));

    expect(hdrs.get("traceparent")).toBe(`00-${TRACE_ID}-${SPAN_ID}-00`);
    expect(hdrs.has("tracestate")).toBe(false);
    const received = trace.getSpanContext(extractTraceContext(hdrs, ROOT_CONTEXT));
    expect(received?.traceFlags).toBe(TraceFlags.NONE);
    expect(received?.traceState).toBeUndefined();
  });

  it("writes nothing when the context holds no span", () => {
    const hdrs = headers();
    injectTraceHeaders(hdrs, ROOT_CONTEXT);
    expect(hdrs.has("traceparent")).toBe(false);
    expect(hdrs.keys()).toEqual([]);
  });

  it("extracts no parent from a message without headers or with a malformed traceparent", () => {
    expect(trace.getSpanContext(extractTraceContext(undefined, ROOT_CONTEXT))).toBeUndefined();

    const hdrs = headers();
    hdrs.set("traceparent", "00-not-a-trace-01");
    expect(trace.getSpanContext(extractTraceContext(hdrs, ROOT_CONTEXT))).toBeUndefined();

    const zeros = headers();
    zeros.set("traceparent", `00-${"0".repeat(32)}-${SPAN_ID}-01`);
    expect(trace.getSpanContext(extractTraceContext(zeros, ROOT_CONTEXT))).toBeUndefined();
  });

  it("extracts into the given context, leaving it unchanged when there is nothing to read", () => {
    const key = Symbol.for("nats-headers.unit.spec");
    const base = ROOT_CONTEXT.setValue(key, "kept");
    const hdrs = headers();
    injectTraceHeaders(hdrs, contextWith({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: TraceFlags.SAMPLED }));

    const extracted = extractTraceContext(hdrs, base);
    expect(extracted.getValue(key)).toBe("kept");
    expect(trace.getSpanContext(extracted)?.spanId).toBe(SPAN_ID);
    expect(extractTraceContext(headers(), base)).toBe(base);
  });
});
