import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../nats/order-history.ts";
import type { TraceLookup, TraceSpan } from "./trace-span.ts";
import { aSpan } from "./testing/trace-spans.ts";
import type { LogLine, LogLookup } from "./log-query.ts";
import type { OrderEvent } from "../shared/events.ts";
// The page is given the order service's own fold, as GET /orders/{id}/view gives it.
import { foldOrder } from "../services/order/domain/order.ts";
import { publisherOf, renderOrderTimelinePage } from "./timeline-page.ts";

const ORDER_ID = "ord_timeline1";
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const HOSTILE = `<script>alert("x")</script>`;
const T0 = Date.parse("2026-01-02T03:04:05.000Z");

const envelope = (type: string, ms: number) => ({
  orderId: ORDER_ID,
  userId: "user-1",
  eventId: `${ORDER_ID}:${type}`,
  occurredAt: new Date(T0 + ms).toISOString(),
  schemaVersion: 1 as const,
});

function stored(seq: number, ms: number, event: OrderEvent): StoredEvent {
  return {
    seq,
    subject: `orders.03.${ORDER_ID}.${event.eventType}`,
    time: new Date(T0 + ms).toISOString(),
    event,
    traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01`,
  };
}

const created = stored(11, 0, {
  eventType: "ORDER_CREATED",
  ...envelope("ORDER_CREATED", 0),
  amount: 30,
  currency: "EUR",
  items: [{ sku: HOSTILE, quantity: 2, unitPrice: 15 }],
});
const paid = stored(14, 40, {
  eventType: "PAYMENT_COMPLETED",
  ...envelope("PAYMENT_COMPLETED", 40),
  paymentId: "pay_1",
  amount: 30,
  currency: "EUR",
});
const shipped = stored(19, 75, { eventType: "SHIPPING_READY", ...envelope("SHIPPING_READY", 75), shippingId: "shp_1" });
const HAPPY = [created, paid, shipped];

/** A span starting `startMs` after T0. */
const span = (spanId: string, parentSpanId: string | null, startMs: number, durationMs: number, fields: Partial<TraceSpan> = {}) =>
  aSpan(spanId, parentSpanId, { startTimeUs: T0 * 1000 + startMs * 1000, durationUs: durationMs * 1000, ...fields });

const lookup = (spans: TraceSpan[] | null, warning?: string): TraceLookup => ({
  traceId: TRACE_ID,
  jaegerUrl: `http://jaeger.local:16686/trace/${TRACE_ID}`,
  spans,
  ...(warning === undefined ? {} : { warning }),
});

function page(events: StoredEvent[], trace: TraceLookup | null): string {
  return renderOrderTimelinePage({ orderId: ORDER_ID, order: foldOrder(events.map((e) => e.event)), events, trace });
}

/** The attribute values of `name` on elements that carry it, in document order. */
const attrs = (doc: string, name: string) => [...doc.matchAll(new RegExp(`${name}="([^"]*)"`, "g"))].map((m) => m[1]);

describe("renderOrderTimelinePage", () => {
  it("lists the events in stream order with sequence, time, type and publishing service", () => {
    const doc = page(HAPPY, lookup([span("root", null, 0, 10)]));

    expect(attrs(doc, "data-seq")).toEqual(["11", "14", "19"]);
    expect(attrs(doc, "data-event-type")).toEqual(["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"]);
    const rows = doc.split("<tr data-seq=").slice(1);
    expect(rows[0]).toContain(`<time datetime="2026-01-02T03:04:05.000Z">`);
    expect(rows[0]).toMatch(/class="svc svc-order">order</);
    expect(rows[1]).toMatch(/class="svc svc-payment">payment</);
    expect(rows[1]).toContain("+40 ms");
    expect(rows[2]).toMatch(/class="svc svc-shipping">shipping</);
    expect(rows[2]).toContain("shipment <code>shp_1</code>");
    expect(doc).toContain(`data-status="SHIPPING_READY"`);
  });

  it("keeps the order it is given: the page does not reorder what the stream returned", () => {
    const doc = page([created, shipped, paid], lookup(null, "down"));
    expect(attrs(doc, "data-event-type")).toEqual(["ORDER_CREATED", "SHIPPING_READY", "PAYMENT_COMPLETED"]);
  });

  it("escapes hostile values from events and from Jaeger", () => {
    const trace = lookup(
      [
        span("a", null, 0, 10, { operation: `<img src=x onerror=alert(1)>` }),
        span("b", "a", 2, 3, { service: `"><script>alert(2)</script>`, status: "error" }),
      ],
      `Jaeger said <b>"no"</b>`,
    );
    const doc = renderOrderTimelinePage({
      orderId: `${ORDER_ID}"<i>`,
      order: foldOrder(HAPPY.map((e) => e.event)),
      events: HAPPY,
      trace: { ...trace, traceId: `${TRACE_ID}<u>`, jaegerUrl: `http://j/trace/x"onmouseover="alert(3)` },
    });

    expect(doc).not.toMatch(/<script/i);
    expect(doc).not.toMatch(/<img/i);
    expect(doc).not.toMatch(/<[biu]>/);
    expect(doc).not.toContain(`"onmouseover=`);
    expect(doc).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    expect(doc).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(doc).toContain("&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;");
    expect(doc).toContain("Jaeger said &lt;b&gt;&quot;no&quot;&lt;/b&gt;");
    expect(doc).toContain(`href="http://j/trace/x&quot;onmouseover=&quot;alert(3)"`);
  });

  it("links to Jaeger only through http(s)", () => {
    const doc = page(HAPPY, { ...lookup(null, "bad url"), jaegerUrl: "javascript:alert(1)//trace/x" });
    expect(doc).not.toMatch(/href="javascript:/i);
    expect(doc).toContain("</code> in Jaeger: javascript:");
    expect(doc).toContain("javascript:alert(1)//trace/x"); // as text, so the operator sees the bad setting
  });

  it("shows the warning and the Jaeger link, and no waterfall, when the spans are null", () => {
    const doc = page(HAPPY, lookup(null, "Jaeger at http://127.0.0.1:1 did not answer (connection refused)"));
    expect(doc).toMatch(
      /<p class="warning" role="status">No waterfall: Jaeger at http:\/\/127\.0\.0\.1:1 did not answer \(connection refused\)<\/p>/,
    );
    expect(doc).toContain(`<a class="jaeger-link" href="http://jaeger.local:16686/trace/${TRACE_ID}"`);
    expect(doc).not.toContain(`id="waterfall"`);
    expect(attrs(doc, "data-seq")).toEqual(["11", "14", "19"]);
  });

  it("draws the waterfall: spans in tree order, bars placed by offset and duration, errors marked", () => {
    const doc = page(
      HAPPY,
      lookup([
        span("c", "b", 50, 25, { service: "shipping-service", operation: "process PAYMENT_COMPLETED", status: "error" }),
        span("a", null, 0, 100, { operation: "POST /orders", kind: "server" }),
        span("b", "a", 20, 10, { service: "payment-service", operation: "process ORDER_CREATED", kind: "consumer" }),
        span("d", null, 60, 5, { operation: "GET /orders/{id}", kind: "server", status: "unset" }),
      ]),
    );
    expect(doc).toContain(`id="waterfall"`);
    expect(attrs(doc, "data-span-id")).toEqual(["a", "b", "c", "d"]);
    const bars = attrs(doc, "style").filter((s) => s!.startsWith("left:") && s!.includes("width:"));
    expect(bars.map((s) => /left:([\d.]+)%;width:([\d.]+)%/.exec(s!)!.slice(1).map(Number))).toEqual([
      [0, 100],
      [20, 10],
      [50, 25],
      [60, 5],
    ]);
    expect(attrs(doc, "style").filter((s) => s!.startsWith("padding-left"))).toEqual([
      "padding-left:0.0em",
      "padding-left:0.9em",
      "padding-left:1.8em",
      "padding-left:0.0em",
    ]);
    const rowOf = (id: string) => doc.split(`data-span-id="${id}"`)[1]!.split(`class="span`)[0]!;
    expect(rowOf("c")).toContain("background:#c53030");
    expect(rowOf("b")).toContain("background:#2f855a"); // payment-service in the payment badge's colour
    expect(rowOf("c")).toMatch(/<div class="num">50\.0 ms<\/div>\s*<div class="num">25\.0 ms<\/div>\s*<div class="st">error<\/div>/);
    expect(doc).toContain(`<a class="jaeger-link" href="http://jaeger.local:16686/trace/${TRACE_ID}"`);
    expect(doc).not.toContain(`class="warning"`);
  });

  it("says so when the order has no traceparent", () => {
    const doc = page(HAPPY, null);
    expect(doc).toContain("No trace: the order's first event carries no traceparent header.");
    expect(doc).not.toContain("jaeger-link");
  });
});

describe("renderOrderTimelinePage: the log lines", () => {
  const QUERY = `orderId:="${ORDER_ID}" | sort by (_time) | limit 1000`;
  const logLine = (ms: number, service: string, msg: string, fields: Record<string, string> = {}, level = "info"): LogLine => ({
    time: new Date(T0 + ms).toISOString().replace(/0+Z$/, "Z"),
    service,
    level,
    msg,
    fields: { orderId: ORDER_ID, trace_id: TRACE_ID, ...fields },
  });
  const logs = (lines: LogLine[] | null, warning?: string): LogLookup => ({
    query: QUERY,
    uiUrl: "http://logs.local:9428/select/vmui/",
    lines,
    ...(warning === undefined ? {} : { warning }),
  });
  const withLogs = (l: LogLookup) =>
    renderOrderTimelinePage({
      orderId: ORDER_ID,
      order: foldOrder(HAPPY.map((e) => e.event)),
      events: HAPPY,
      trace: lookup([span("a", null, 0, 10)]),
      logs: l,
    });

  it("lists every service's lines in the order given, under the trace, each tied to its span in the waterfall", () => {
    const doc = withLogs(
      logs([
        logLine(1, "order-service", "order accepted", { eventType: "ORDER_CREATED", seq: "11", span_id: "a" }),
        logLine(20, "payment-service", "handled ORDER_CREATED", {
          eventType: "ORDER_CREATED",
          seq: "11",
          consumer: "payment-lane3",
          span_id: "b",
        }),
        logLine(50, "notification-service", "handled SHIPPING_READY", { eventType: "SHIPPING_READY", seq: "19" }, "warn"),
      ]),
    );
    expect(doc.indexOf('id="logs-title"')).toBeGreaterThan(doc.indexOf('id="waterfall"'));
    expect(doc).toContain("Logs <small>(3 lines, every service, in time order)</small>");
    expect(attrs(doc, "data-service")).toEqual(["order-service", "payment-service", "notification-service"]);
    const rows = doc.split('<tr class="level-').slice(1);
    expect(rows[0]).toContain(`<time datetime="2026-01-02T03:04:05.001Z">2026-01-02T03:04:05.001Z</time>`);
    expect(rows[1]).toContain("+19 ms");
    expect(rows[1]).toMatch(/class="svc svc-payment">payment-service</);
    expect(rows[1]).toContain(`consumer=<code>payment-lane3</code>`);
    expect(rows[0]).toContain(`<a href="#span-a"><code>a</code></a>`);
    expect(doc).toContain(`id="span-a" data-span-id="a"`);
    expect(rows[2]!.startsWith('warn"')).toBe(true);
    expect(rows[2]).toMatch(/class="svc svc-notification">notification-service</);
    expect(doc).toContain(`<a class="logs-link" href="http://logs.local:9428/select/vmui/"`);
    expect(doc).toContain(`<code>orderId:=&quot;${ORDER_ID}&quot; | sort by (_time) | limit 1000</code>`);
  });

  it("escapes what the log store returns", () => {
    const doc = withLogs({
      ...logs([logLine(0, `<svc onclick=x>`, `<script>alert(1)</script>`, { span_id: `"><img src=x>`, eventType: "<b>" })], `<i>warn</i>`),
      uiUrl: `javascript:alert(2)`,
    });
    expect(doc).not.toMatch(/<script|<img|<b>|<i>|<svc/i);
    expect(doc).not.toMatch(/href="javascript:/i);
    expect(doc).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(doc).toContain(`class="svc svc-other"`);
  });

  it("warns when the log store does not answer, and says so when it has nothing yet", () => {
    const down = withLogs(logs(null, "VictoriaLogs at http://127.0.0.1:1 did not answer (connection refused)"));
    expect(down).toContain(
      `<p class="warning" role="status">No logs: VictoriaLogs at http://127.0.0.1:1 did not answer (connection refused)</p>`,
    );
    expect(down).toContain("Logs <small>(unavailable)</small>");
    expect(down).not.toContain(`id="logs"`);
    const none = withLogs(logs([]));
    expect(none).toContain("The log store has no lines for this order (yet");
    // Without a lookup (a caller that does not read logs), no section at all; without a store, a note.
    expect(page(HAPPY, null)).not.toContain("logs-title");
    const off = renderOrderTimelinePage({
      orderId: ORDER_ID,
      order: foldOrder(HAPPY.map((e) => e.event)),
      events: HAPPY,
      trace: null,
      logs: "not-configured",
    });
    expect(off).toContain(`<p class="empty">Log lines are not collected centrally here: set VICTORIA_LOGS_URL`);
    expect(off.split('id="logs-title"')[1]).not.toContain("warning");
  });
});

describe("publisherOf", () => {
  it("maps the event type prefix to the publishing service", () => {
    expect(publisherOf("ORDER_CREATED")).toBe("order");
    expect(publisherOf("ORDER_CANCEL_REQUESTED")).toBe("order");
    expect(publisherOf("ORDER_CANCELLED")).toBe("order");
    expect(publisherOf("PAYMENT_FAILED")).toBe("payment");
    expect(publisherOf("PAYMENT_REFUNDED")).toBe("payment");
    expect(publisherOf("SHIPPING_FAILED")).toBe("shipping");
  });
});

describe("escaping an order's data (hono/html)", () => {
  // What a stream could hold if something upstream let it through: markup, both quotes, ampersands.
  const EVIL = `Tom & Jerry's "best" <script>alert(1)</script>`;
  const EVIL_ESCAPED = "Tom &amp; Jerry&#39;s &quot;best&quot; &lt;script&gt;alert(1)&lt;/script&gt;";

  it("given hostile strings in every text field of the order's events, then each comes out escaped, as text", () => {
    const env = (type: string, ms: number) => ({ ...envelope(type, ms), userId: EVIL });
    const events = [
      stored(1, 0, {
        eventType: "ORDER_CREATED",
        ...env("ORDER_CREATED", 0),
        amount: 30,
        currency: "EUR",
        items: [{ sku: EVIL, quantity: 2, unitPrice: 15 }],
      }),
      stored(2, 10, { eventType: "PAYMENT_COMPLETED", ...env("PAYMENT_COMPLETED", 10), paymentId: EVIL, amount: 30, currency: "EUR" }),
      stored(3, 20, { eventType: "SHIPPING_FAILED", ...env("SHIPPING_FAILED", 20), reason: EVIL, unavailableSkus: [EVIL] }),
      stored(4, 30, {
        eventType: "PAYMENT_REFUNDED",
        ...env("PAYMENT_REFUNDED", 30),
        paymentId: EVIL,
        amount: 30,
        currency: "EUR",
        reason: "SHIPPING_FAILED",
      }),
      stored(5, 40, { eventType: "PAYMENT_FAILED", ...env("PAYMENT_FAILED", 40), reason: EVIL }),
    ];
    const doc = page(events, lookup(null, EVIL));

    expect(doc).not.toContain("<script");
    expect(doc).not.toContain(`"best"`);
    expect(doc).not.toMatch(/&(?!amp;|lt;|gt;|quot;|#39;)/);
    // userId; sku (summary, event); paymentId (summary, two events); shipping reason; unavailable sku; payment reason; Jaeger's warning.
    expect(doc.split(EVIL_ESCAPED).length - 1).toBe(10);
    expect(doc).toContain(`<dt>User</dt><dd>${EVIL_ESCAPED}</dd>`);
    expect(doc).toContain(`<li><code>${EVIL_ESCAPED}</code> × 2 @ 15.00</li>`);
    expect(doc).toContain(`payment <code>${EVIL_ESCAPED}</code>, 30.00 EUR`);
    expect(doc).toContain(`${EVIL_ESCAPED} (unavailable: <code>${EVIL_ESCAPED}</code>)`);
  });

  it("given a hostile order id, then it is escaped in the title, the heading and the link's attribute", () => {
    const doc = renderOrderTimelinePage({ orderId: EVIL, order: null, events: [], trace: null });
    expect(doc).toContain(`<title>Order ${EVIL_ESCAPED} · timeline</title>`);
    expect(doc).toContain(`<h1>Order <code>${EVIL_ESCAPED}</code></h1>`);
    expect(doc).toContain(`<a href="../${encodeURIComponent(EVIL).replaceAll("'", "&#39;")}">order</a>`);
    expect(doc).not.toContain("<script");
  });
});
