import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { renderTraceReport, renderWaterfall } from "./waterfall.ts";
import { fetchTrace } from "../inspection/jaeger-client.ts";
import type { TraceLookup, TraceSpan } from "../inspection/trace-span.ts";
import { aSpan } from "../inspection/testing/trace-spans.ts";

const T0 = 1_700_000_000_000_000;
const ESC = "\u001b";

/** A span starting `startMs` after T0, of no kind and status unset unless `fields` say so. */
function span(
  spanId: string,
  parentSpanId: string | null,
  fields: Partial<TraceSpan> & { startMs: number; durationMs: number },
): TraceSpan {
  const { startMs, durationMs, ...rest } = fields;
  return aSpan(spanId, parentSpanId, {
    kind: null,
    status: "unset",
    startTimeUs: T0 + startMs * 1000,
    durationUs: durationMs * 1000,
    ...rest,
  });
}

// One order: HTTP request → publish → payment consumer → shipping consumer (failed), and a later
// GET that starts before the shipping span but belongs to no one: tree order puts it last.
const ORDER_TRACE: TraceSpan[] = [
  span("d", "c", {
    startMs: 9,
    durationMs: 11,
    service: "shipping-service",
    operation: "process payments.completed",
    kind: "consumer",
    status: "error",
  }),
  span("e", null, { startMs: 4, durationMs: 0.5, operation: "GET /orders/{id}", kind: "server", status: "ok" }),
  span("b", "a", { startMs: 2, durationMs: 1, operation: "publish orders.created", kind: "producer" }),
  span("a", null, { startMs: 0, durationMs: 10, operation: "POST /orders", kind: "server", status: "ok" }),
  span("c", "b", {
    startMs: 5,
    durationMs: 3,
    service: "payment-service",
    operation: "process orders.created",
    kind: "consumer",
    status: "ok",
  }),
];

const lines = (text: string) => text.split("\n");
const lane = (line: string) => line.slice(line.indexOf("|") + 1, line.lastIndexOf("|"));

describe("renderWaterfall", () => {
  it("puts spans in tree order with children indented under their parents", () => {
    const [header, ...rows] = lines(renderWaterfall(ORDER_TRACE, { width: 20 }));

    expect(header).toMatch(/^SERVICE\s+OPERATION\s+KIND\s+START\s+DURATION\s+STATUS\s+\|0\s+20\.00 ms\|$/);
    expect(rows.map((r) => r.match(/^ */)![0].length / 2)).toEqual([0, 1, 2, 3, 0]);
    expect(
      rows.map((r) =>
        r
          .trim()
          .split(/\s{2,}/)
          .slice(0, 3),
      ),
    ).toEqual([
      ["order-service", "POST /orders", "server"],
      ["order-service", "publish orders.created", "producer"],
      ["payment-service", "process orders.created", "consumer"],
      ["shipping-service", "process payments.completed", "consumer"],
      ["order-service", "GET /orders/{id}", "server"],
    ]);
  });

  it("shows offset from trace start, duration and status per span", () => {
    const rows = lines(renderWaterfall(ORDER_TRACE, { width: 20 })).slice(1);
    const columns = rows.map((r) =>
      r
        .slice(0, r.indexOf("|"))
        .trim()
        .split(/\s{2,}/)
        .slice(3),
    );

    expect(columns).toEqual([
      ["0.000 ms", "10.00 ms", "ok"],
      ["2.00 ms", "1.00 ms", "unset"],
      ["5.00 ms", "3.00 ms", "ok"],
      ["9.00 ms", "11.00 ms", "error"],
      ["4.00 ms", "0.500 ms", "ok"],
    ]);
  });

  it("positions each bar proportionally in a lane of the given width", () => {
    const rows = lines(renderWaterfall(ORDER_TRACE, { width: 20 })).slice(1);

    expect(rows.map(lane)).toEqual([
      "██████████          ", // 0–10 ms of 20
      "  █                 ", // 2–3
      "     ███            ", // 5–8
      "         ███████████", // 9–20
      "    █               ", // 4–4.5, rounded out to a whole cell
    ]);
  });

  it("keeps the lane width fixed, with a floor so bars stay readable", () => {
    expect(
      lines(renderWaterfall(ORDER_TRACE, { width: 33 }))
        .slice(1)
        .map((l) => lane(l).length),
    ).toEqual([33, 33, 33, 33, 33]);
    expect(lane(lines(renderWaterfall(ORDER_TRACE, { width: 3 }))[1]!)).toHaveLength(10);
    expect(lane(lines(renderWaterfall(ORDER_TRACE))[1]!)).toHaveLength(40);
  });

  it("colours only when asked: errors red, no escape codes otherwise", () => {
    const plain = renderWaterfall(ORDER_TRACE);
    const coloured = lines(renderWaterfall(ORDER_TRACE, { color: true }));

    expect(plain).not.toContain(ESC);
    expect(coloured[4]).toContain(`${ESC}[31merror`);
    expect(coloured[4]).toContain(`${ESC}[31mshipping-service`);
    expect(coloured[1]).not.toContain(`${ESC}[31m`);
  });

  it("draws a span whose parent is absent as a root, and a zero-length trace without NaN", () => {
    const orphan = span("x", "not-in-trace", { startMs: 0, durationMs: 0, operation: "orphan" });
    const [, row] = lines(renderWaterfall([orphan], { width: 10 }));

    expect(row).toMatch(/^order-service\s+orphan\s+0\.000 ms\s+0\.000 ms\s+unset\s+\|█ {9}\|$/);
    expect(row).not.toContain("NaN");
  });

  it("shows every span exactly once despite repeated ids and parent cycles", () => {
    const spans = [
      span("a", null, { startMs: 0, durationMs: 4, operation: "first a" }),
      span("a", null, { startMs: 1, durationMs: 1, operation: "second a" }),
      span("k", "a", { startMs: 2, durationMs: 1, operation: "child of a" }),
      span("x", "y", { startMs: 3, durationMs: 1, operation: "cycle x" }),
      span("y", "x", { startMs: 3, durationMs: 1, operation: "cycle y" }),
    ];
    const rows = lines(renderWaterfall(spans)).slice(1);

    expect(rows.map((r) => r.trim().split(/\s{2,}/)[1])).toEqual(["first a", "child of a", "second a", "cycle x", "cycle y"]);
    expect(rows.map((r) => r.match(/^ */)![0].length / 2)).toEqual([0, 1, 0, 0, 1]);
  });

  it("labels a messaging span by operation and event type, and a CLIENT span by where it went", () => {
    const template = "orders.{partition}.{orderId}.SHIPPING_READY";
    const spans = [
      span("a", null, {
        startMs: 0,
        durationMs: 1,
        operation: `publish ${template}`,
        kind: "producer",
        attributes: {
          "messaging.operation.name": "publish",
          "messaging.destination.template": template,
          "orderstream.event_type": "SHIPPING_READY",
        },
      }),
      span("b", "a", {
        startMs: 0.5,
        durationMs: 1,
        service: "notification-service",
        operation: "POST",
        kind: "client",
        attributes: { "server.address": "127.0.0.1", "server.port": 8080 },
      }),
    ];
    const rows = lines(renderWaterfall(spans, { width: 20 })).slice(1);
    expect(rows.map((r) => r.trim().split(/\s{2,}/)[1])).toEqual(["publish SHIPPING_READY", "POST 127.0.0.1:8080"]);
  });

  it("truncates long names and neutralises control characters", () => {
    const long = "x".repeat(60);
    const [, row] = lines(renderWaterfall([span("a", null, { startMs: 0, durationMs: 1, operation: long, service: `evil${ESC}[2J` })]));

    expect(row).toContain(`${"x".repeat(39)}…`);
    expect(row).not.toContain("x".repeat(41));
    expect(row).not.toContain(ESC);
    expect(row).toContain("evil?[2J");
  });

  it("renders Jaeger's edge-case fixture as a tree", async () => {
    const body = readFileSync(new URL("../test/fixtures/jaeger/api_v1_get_trace.json", import.meta.url), "utf8");
    const lookup = await fetchTrace({
      baseUrl: "http://jaeger.test:16686",
      traceId: "00000000000000000000000000000001",
      fetch: async (input) =>
        new Response(String(input).includes("/api/traces/") ? body : "{}", { status: String(input).includes("/api/traces/") ? 200 : 404 }),
    });
    const rows = lines(renderWaterfall(lookup.spans!)).slice(1);

    expect(rows.map((r) => r.match(/^ *\S+\s+\S+/)![0])).toEqual([
      "service-x      test-general-conversion",
      "  service-y    some-operation",
      "  service-y    reference-test",
      "    service-y  preserveParentID-test",
      "service-x      some-operation",
    ]);
  });
});

describe("renderTraceReport", () => {
  const found: TraceLookup = {
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    jaegerUrl: "http://127.0.0.1:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736",
    spans: ORDER_TRACE,
  };

  it("prints the trace id with a summary, the waterfall, and the Jaeger link last", () => {
    const report = lines(renderTraceReport(found, { width: 20 }));

    expect(report[0]).toBe("Trace 4bf92f3577b34da6a3ce929d0e0e4736 (5 spans, 3 services, 20.00 ms, 1 error)");
    expect(report.join("\n")).toContain(renderWaterfall(ORDER_TRACE, { width: 20 }));
    expect(report.at(-1)).toBe("Jaeger: http://127.0.0.1:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736");
  });

  it("prints the warning instead of a waterfall when Jaeger had no spans", () => {
    const warning =
      "Jaeger at http://127.0.0.1:16686 did not answer (connection refused); is it running? Set JAEGER_QUERY_URL to its query address.";
    const report = renderTraceReport({ ...found, spans: null, warning });

    expect(lines(report)[0]).toBe("Trace 4bf92f3577b34da6a3ce929d0e0e4736");
    expect(report).toContain(`No spans: ${warning}`);
    expect(report).not.toContain("SERVICE");
    expect(lines(report).at(-1)).toBe(`Jaeger: ${found.jaegerUrl}`);
  });
});
