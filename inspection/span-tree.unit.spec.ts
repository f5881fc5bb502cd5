import { describe, expect, it } from "vitest";
import { spanTree } from "./span-tree.ts";
import type { TraceSpan } from "./trace-span.ts";
import { aSpan } from "./testing/trace-spans.ts";

const T0 = 1_700_000_000_000_000;

/** A span starting `startUs` after T0; `operation` defaults to its id so rows are easy to name. */
const span = (spanId: string, parentSpanId: string | null, startUs: number, durationUs: number, fields: Partial<TraceSpan> = {}) =>
  aSpan(spanId, parentSpanId, { startTimeUs: T0 + startUs, durationUs, ...fields });

/** Each row as `[operation, depth, offsetUs]`, in drawing order. */
const layout = (spans: TraceSpan[]) => spanTree(spans).rows.map(({ span, depth, offsetUs }) => [span.operation, depth, offsetUs]);

describe("spanTree", () => {
  it("given no spans, then no rows and a trace of no length", () => {
    expect(spanTree([])).toEqual({ rows: [], startUs: 0, durationUs: 0 });
  });

  it("given siblings listed out of order, then each comes under its parent, siblings by start, ties in the order given", () => {
    const spans = [
      span("late", "root", 300, 10),
      span("tie-1", "root", 100, 10),
      span("root", null, 0, 500),
      span("early", "root", 50, 10),
      span("tie-2", "root", 100, 10),
      span("grandchild", "early", 55, 1),
    ];

    expect(layout(spans)).toEqual([
      ["root", 0, 0],
      ["early", 1, 50],
      ["grandchild", 2, 55],
      ["tie-1", 1, 100],
      ["tie-2", 1, 100],
      ["late", 1, 300],
    ]);
  });

  it("given spans whose parent is not in the trace, then each is a root, among the roots by start, its own children under it", () => {
    const spans = [
      span("orphan", "not-exported-yet", 40, 20),
      span("root", null, 0, 30),
      span("orphan-child", "orphan", 45, 5),
      span("child", "root", 10, 5),
      span("other-orphan", "from-another-trace", 20, 1),
    ];

    expect(layout(spans)).toEqual([
      ["root", 0, 0],
      ["child", 1, 10],
      ["other-orphan", 0, 20],
      ["orphan", 0, 40],
      ["orphan-child", 1, 45],
    ]);
    expect(spanTree(spans)).toMatchObject({ startUs: T0, durationUs: 60 });
  });

  it("given a consumer on a host whose clock runs 2 ms behind, when it appears to start before its producer, then it stays under the producer and no offset is negative", () => {
    const spans = [
      span("POST /orders", null, 0, 5_000, { kind: "server" }),
      span("publish ORDER_CREATED", "POST /orders", 1_000, 500, { kind: "producer" }),
      // Really 300 µs after the publish; this host's clock says 1.7 ms before it.
      span("process ORDER_CREATED", "publish ORDER_CREATED", -700, 800, { service: "payment-service", kind: "consumer" }),
    ];
    const tree = spanTree(spans);

    expect(layout(spans)).toEqual([
      ["POST /orders", 0, 700],
      ["publish ORDER_CREATED", 1, 1_700],
      ["process ORDER_CREATED", 2, 0],
    ]);
    expect(tree.startUs).toBe(T0 - 700);
    expect(tree.durationUs).toBe(5_700);
    expect(tree.rows.every((row) => row.offsetUs >= 0 && row.offsetUs + row.span.durationUs <= tree.durationUs)).toBe(true);
  });

  it("given one order's trace across order, payment and shipping, then the causal chain nests service by service with offsets from the request", () => {
    const messaging = (operation: string, eventType: string) => ({
      "messaging.operation.name": operation,
      "orderstream.event_type": eventType,
    });
    // As Jaeger returns them: sorted by start (inspection/jaeger-spans.ts), with a later GET of the
    // order that belongs to none of the chain.
    const spans = [
      span("s1", null, 0, 4_000, { operation: "POST /orders", kind: "server" }),
      span("p1", "s1", 1_200, 600, {
        operation: "publish orders.{partition}.{orderId}.ORDER_CREATED",
        kind: "producer",
        attributes: messaging("publish", "ORDER_CREATED"),
      }),
      span("c1", "p1", 2_500, 3_000, {
        service: "payment-service",
        operation: "process",
        kind: "consumer",
        attributes: messaging("process", "ORDER_CREATED"),
      }),
      span("p2", "c1", 4_800, 400, {
        service: "payment-service",
        operation: "publish",
        kind: "producer",
        attributes: messaging("publish", "PAYMENT_COMPLETED"),
      }),
      span("g1", null, 5_000, 300, { operation: "GET /orders/{orderId}", kind: "server" }),
      span("c2", "p2", 6_000, 2_000, {
        service: "shipping-service",
        operation: "process",
        kind: "consumer",
        attributes: messaging("process", "PAYMENT_COMPLETED"),
      }),
      span("p3", "c2", 7_500, 300, {
        service: "shipping-service",
        operation: "publish",
        kind: "producer",
        attributes: messaging("publish", "SHIPPING_READY"),
      }),
      span("c3", "p3", 9_000, 1_000, { operation: "process", kind: "consumer", attributes: messaging("process", "SHIPPING_READY") }),
    ];
    const tree = spanTree(spans);

    expect(tree.rows.map(({ span, depth, offsetUs }) => [span.spanId, span.service, depth, offsetUs])).toEqual([
      ["s1", "order-service", 0, 0],
      ["p1", "order-service", 1, 1_200],
      ["c1", "payment-service", 2, 2_500],
      ["p2", "payment-service", 3, 4_800],
      ["c2", "shipping-service", 4, 6_000],
      ["p3", "shipping-service", 5, 7_500],
      ["c3", "order-service", 6, 9_000],
      ["g1", "order-service", 0, 5_000],
    ]);
    expect(tree.startUs).toBe(T0);
    expect(tree.durationUs).toBe(10_000);
  });

  it("given repeated span ids and a parent cycle, then every span comes out exactly once", () => {
    const spans = [
      span("a", null, 0, 4, { operation: "first a" }),
      span("a", null, 1, 1, { operation: "second a" }),
      span("k", "a", 2, 1, { operation: "child of a" }),
      span("x", "y", 3, 1, { operation: "cycle x" }),
      span("y", "x", 3, 1, { operation: "cycle y" }),
      span("s", "s", 5, 1, { operation: "its own parent" }),
    ];

    expect(layout(spans)).toEqual([
      ["first a", 0, 0],
      ["child of a", 1, 2],
      ["second a", 0, 1],
      ["its own parent", 0, 5],
      ["cycle x", 0, 3],
      ["cycle y", 1, 3],
    ]);
  });

  it("given a chain 20,000 spans deep, then every span is placed one level under its parent", () => {
    const spans = Array.from({ length: 20_000 }, (_, i) => span(`s${i}`, i === 0 ? null : `s${i - 1}`, i, 1));
    const { rows, durationUs } = spanTree(spans);

    expect(rows).toHaveLength(20_000);
    expect(rows.every((row, i) => row.span.spanId === `s${i}` && row.depth === i)).toBe(true);
    expect(durationUs).toBe(20_000);
  });

  it("does not reorder or change the spans it is given", () => {
    const spans = [span("b", "a", 5, 1), span("a", null, 0, 10)];
    const copy = structuredClone(spans);
    spanTree(spans);
    expect(spans).toEqual(copy);
  });
});
