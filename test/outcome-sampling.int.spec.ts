/**
 * Sampling by outcome (OTEL_TRACES_SAMPLER=orderstream_outcome, otel/outcome-sampling.ts) across
 * the four services as processes exporting OTLP/HTTP to a receiver on loopback, with no happy trace
 * picked by id (OTEL_TRACES_SAMPLER_ARG=0): a declined, an out-of-stock and a cancelled order arrive
 * whole, spans of services that never see anything go wrong included — which they export only when
 * told over NATS (nats/trace-keeping.ts); the first hundred happy orders arrive whole because the
 * notification service counts them slow (otel/slow-orders.ts) and says so; later happy orders do not
 * arrive, and their spans are counted as sampled out.
 *
 * The test watches the ORDERS and NOTIFICATIONS subjects over core NATS to know when an order is
 * done and when notification has handled its events: polling the HTTP API would make spans of its
 * own, held like any other.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { NOTIFICATIONS_SUBJECTS, notificationSubject, ORDERS_SUBJECTS, parseEventSubject } from "../nats/subjects.ts";
import type { EventType } from "../shared/events.ts";
import { traceIdOf } from "../nats/order-history.ts";
import { processSpanName, publishSpanName, spanCount } from "./support/trace-shape.ts";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "./support/otlp-receiver.ts";
import { waitUntil } from "./support/processes.ts";
import { postOrder, startSystem, type OrderBody, type System } from "./support/system.ts";

const SERVICE_NAMES = ["order-service", "payment-service", "shipping-service", "notification-service"];
/**
 * Spans each process holds at most. Small, so that the later happy orders overflow it (and their
 * spans are counted as let go), yet above what one batch of orders below holds at once (3 spans an
 * order in the busiest service).
 */
const HOLD_SPANS = 64;
const EXPORT_DELAY_MS = 100;
/** Several export delays: a span that was handed to the exporter before the wait has arrived by then. */
const SETTLE_MS = 1_000;
/** Orders the notification service counts slow whatever their time (MIN_TIMED in otel/slow-orders.ts). */
const ALWAYS_SLOW = 100;
const FIRST_HAPPY = 110;
const FIRST_BATCH = 10;
const LATER_HAPPY = 50;
/** Small: the later orders are quicker than the first ones, which queued behind each other in batches of ten. */
const LATER_BATCH = 2;
/** Of the later happy orders, at most a fifth may arrive: those slower than the p99 of the first ones. */
const LATER_SEEN_AT_MOST = LATER_HAPPY / 5;
const HAPPY_CHAIN = ["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"];

interface Placed {
  orderId: string;
  userId: string;
  traceId: string;
}

interface SeenEvent {
  eventType: string;
  traceId: string | null;
}

/** What the test sees on core NATS: each order's events (with their trace) and the notifications sent for it. */
class Watch {
  readonly events = new Map<string, SeenEvent[]>();
  /** The notifications' subjects. */
  readonly notified = new Set<string>();

  static async start(url: string): Promise<{ watch: Watch; nc: NatsConnection }> {
    const nc = await connect({ servers: url, name: "outcome-sampling-spec" });
    const watch = new Watch();
    nc.subscribe(ORDERS_SUBJECTS, {
      callback: (err, msg) => {
        const parsed = err ? null : parseEventSubject(msg.subject);
        if (!parsed) return;
        const list = watch.events.get(parsed.orderId) ?? [];
        list.push({ eventType: parsed.eventType, traceId: traceIdOf(msg.headers?.get("traceparent")) });
        watch.events.set(parsed.orderId, list);
      },
    });
    // One per order event, written by notification while it handles the event.
    nc.subscribe(NOTIFICATIONS_SUBJECTS, {
      callback: (err, msg) => {
        if (!err) watch.notified.add(msg.subject);
      },
    });
    await nc.flush();
    return { watch, nc };
  }

  typesOf(orderId: string): string[] {
    return (this.events.get(orderId) ?? []).map((e) => e.eventType);
  }

  /** Waits until the order has the event and notification has handled it. */
  async until({ orderId, userId }: Placed, eventType: EventType, timeoutMs = 20_000): Promise<void> {
    const notification = notificationSubject(userId, orderId, eventType);
    await waitUntil(() => this.typesOf(orderId).includes(eventType) && this.notified.has(notification), {
      timeoutMs,
      intervalMs: 20,
      what: `${eventType} of ${orderId}, and its notification`,
    }).catch((err: Error) => {
      throw new Error(`${err.message}; events seen: ${this.typesOf(orderId).join(", ")}; notified: ${this.notified.has(notification)}`);
    });
  }

  /** The order's event types of one trace, in stream order. */
  chainOf(orderId: string, traceId: string): string[] {
    return (this.events.get(orderId) ?? []).filter((e) => e.traceId === traceId).map((e) => e.eventType);
  }
}

function describeSpans(spans: ReceivedSpan[]): string {
  return spans
    .map((s) => `${s.serviceName} "${s.name}" span=${s.spanId} parent=${s.parentSpanId ?? "-"} end=${s.endTimeUnixNano}`)
    .join("\n");
}

async function place(sys: System, body: OrderBody): Promise<Placed> {
  const posted = await postOrder(sys.orderUrl, body);
  expect(posted.status, JSON.stringify(posted.body)).toBe(201);
  const { orderId, traceId } = posted.body as { orderId: string; traceId: string };
  return { orderId, traceId, userId: body.userId };
}

/** The counter's value on one service's /metrics. */
async function counter(baseUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  if (!line) throw new Error(`${baseUrl}/metrics has no ${name}`);
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}

const countersOf = (sys: System, name: string) => Promise.all(sys.services.map((s) => counter(s.baseUrl, name)));

describe("sampling by outcome, four services as processes", () => {
  let receiver: OtlpReceiver;
  let sys: System;
  let nc: NatsConnection;
  let watch: Watch;

  const ofTrace = (traceId: string) => receiver.spans().filter((s) => s.traceId === traceId);

  /** Waits until the trace has `count` spans, lets late exports land, and returns it: never more than `count`. */
  async function wholeTrace(traceId: string, count: number): Promise<ReceivedSpan[]> {
    await waitUntil(() => ofTrace(traceId).length >= count, {
      timeoutMs: 15_000,
      intervalMs: 50,
      what: `${count} spans of trace ${traceId}; so far:\n${describeSpans(ofTrace(traceId))}`,
    }).catch((err: Error) => {
      throw new Error(`${err.message}\nnow:\n${describeSpans(ofTrace(traceId))}`);
    });
    await new Promise((r) => setTimeout(r, 3 * EXPORT_DELAY_MS));
    const spans = ofTrace(traceId);
    expect(spans.length, describeSpans(spans)).toBe(count);
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(count);
    return spans;
  }

  /** The span of `service` named `name` in the trace (exactly one). */
  function spanOf(spans: ReceivedSpan[], service: string, name: string): ReceivedSpan {
    const found = spans.filter((s) => s.serviceName === service && s.name === name);
    expect(
      found.map((s) => s.name),
      `${service} "${name}" in\n${describeSpans(spans)}`,
    ).toEqual([name]);
    return found[0]!;
  }

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    sys = await startSystem({
      env: {
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: String(EXPORT_DELAY_MS),
        OTEL_TRACES_SAMPLER: "orderstream_outcome",
        OTEL_TRACES_SAMPLER_ARG: "0",
        TRACE_HOLD_SPANS: String(HOLD_SPANS),
      },
    });
    ({ watch, nc } = await Watch.start(sys.nats.url));
  });

  afterAll(async () => {
    await nc?.close();
    await sys?.stop();
    await receiver?.close();
  });

  it("a declined order's trace arrives whole, shipping's span too, which only the announcement sends", async () => {
    // Above the default PAYMENT_LIMIT (10000).
    const order = await place(sys, { userId: "outcome-declined", amount: 25_000 });
    const { orderId, traceId } = order;
    await watch.until(order, "ORDER_CANCELLED");
    const chain = ["ORDER_CREATED", "PAYMENT_FAILED", "ORDER_CANCELLED"];
    expect(watch.chainOf(orderId, traceId)).toEqual(chain);

    const spans = await wholeTrace(traceId, spanCount(chain));
    expect(new Set(spans.map((s) => s.serviceName))).toEqual(new Set(SERVICE_NAMES));
    expect(spans.filter((s) => s.parentSpanId === null).map((s) => s.name)).toEqual(["POST /orders"]);
    // Shipping is delivered none of the compensating events (it acts on ORDER_CREATED,
    // ORDER_CANCEL_REQUESTED, PAYMENT_COMPLETED): nothing it recorded of this trace says it went
    // wrong, so its span is there only because payment's verdict reached it over NATS.
    spanOf(spans, "shipping-service", processSpanName("ORDER_CREATED"));
    spanOf(spans, "payment-service", publishSpanName("PAYMENT_FAILED"));
  });

  it("an out-of-stock order's trace arrives whole: charge, shipping failure, refund, cancel", async () => {
    const order = await place(sys, {
      userId: "outcome-out-of-stock",
      amount: 20,
      items: [{ sku: "OUT-OF-STOCK", quantity: 1, unitPrice: 20 }],
    });
    const { orderId, traceId } = order;
    await watch.until(order, "ORDER_CANCELLED");
    const chain = ["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_FAILED", "PAYMENT_REFUNDED", "ORDER_CANCELLED"];
    expect(watch.chainOf(orderId, traceId)).toEqual(chain);

    const spans = await wholeTrace(traceId, spanCount(chain));
    expect(new Set(spans.map((s) => s.serviceName))).toEqual(new Set(SERVICE_NAMES));
    expect(spans.filter((s) => s.parentSpanId === null).map((s) => s.name)).toEqual(["POST /orders"]);
    // The happy first steps, held until shipping failed, are there.
    spanOf(spans, "payment-service", processSpanName("ORDER_CREATED"));
    spanOf(spans, "shipping-service", processSpanName("PAYMENT_COMPLETED"));
  });

  it("a cancelled order: its first trace arrives whole, spans that ended after the cancel kept it included, and the cancel's trace too", async () => {
    // Payment frozen: the order cannot be charged before the cancel is in the stream, so the
    // customer wins (services/payment/domain/payment.ts), and every span payment and those after
    // it make of the order's first trace ends after the cancel route kept that trace.
    const payment = sys.of("payment")[0]!;
    process.kill(payment.pid, "SIGSTOP");
    let order!: Placed;
    let cancelled!: Response;
    try {
      order = await place(sys, { userId: "outcome-cancelled", amount: 42 });
      await watch.until(order, "ORDER_CREATED");
      cancelled = await fetch(`${sys.orderUrl}/orders/${order.orderId}/cancel`, { method: "POST" });
      await watch.until(order, "ORDER_CANCEL_REQUESTED");
    } finally {
      process.kill(payment.pid, "SIGCONT");
    }
    expect(cancelled.status, await cancelled.text()).toBe(202);
    await watch.until(order, "ORDER_CANCELLED");
    const { orderId, traceId } = order;

    const events = watch.events.get(orderId)!;
    const cancelTraceId = events.find((e) => e.eventType === "ORDER_CANCEL_REQUESTED")!.traceId!;
    expect(cancelTraceId).toMatch(/^[0-9a-f]{32}$/);
    expect(cancelTraceId).not.toBe(traceId);
    // Payment charges on ORDER_CREATED (the first trace), then refunds on the cancel (its trace).
    const firstChain = ["ORDER_CREATED", "PAYMENT_COMPLETED"];
    const cancelChain = ["ORDER_CANCEL_REQUESTED", "PAYMENT_REFUNDED", "ORDER_CANCELLED"];
    expect(watch.chainOf(orderId, traceId)).toEqual(firstChain);
    expect(watch.chainOf(orderId, cancelTraceId)).toEqual(cancelChain);

    // The first trace holds no event of the compensating path: only the cancel route's keep,
    // announced over NATS, has the other services send it.
    const first = await wholeTrace(traceId, spanCount(firstChain));
    expect(new Set(first.map((s) => s.serviceName))).toEqual(new Set(SERVICE_NAMES));
    expect(first.filter((s) => s.parentSpanId === null).map((s) => s.name)).toEqual(["POST /orders"]);

    const second = await wholeTrace(cancelTraceId, spanCount(cancelChain));
    expect(new Set(second.map((s) => s.serviceName))).toEqual(new Set(SERVICE_NAMES));
    const roots = second.filter((s) => s.parentSpanId === null);
    expect(roots.map((s) => s.name)).toEqual(["POST /orders/:orderId/cancel"]);
    spanOf(second, "notification-service", processSpanName("ORDER_CANCELLED"));

    // Ended after the trace was kept (the cancel's request began before the keep): exported because
    // each process remembers the traces it was told to keep, not because they were held.
    const keptAt = BigInt(roots[0]!.startTimeUnixNano);
    const late = [
      spanOf(first, "payment-service", processSpanName("ORDER_CREATED")),
      spanOf(first, "payment-service", publishSpanName("PAYMENT_COMPLETED")),
      spanOf(first, "shipping-service", processSpanName("PAYMENT_COMPLETED")),
      spanOf(first, "notification-service", processSpanName("PAYMENT_COMPLETED")),
    ];
    for (const span of late) expect(BigInt(span.endTimeUnixNano), `${span.serviceName} ${span.name}`).toBeGreaterThan(keptAt);
  });

  it("happy orders' traces arrive only while notification counts them slow; later ones are sampled out", async () => {
    // The first hundred timed orders count as slow: each arrives whole, told by notification.
    const first: Placed[] = [];
    for (let b = 0; b < FIRST_HAPPY; b += FIRST_BATCH) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(FIRST_BATCH, FIRST_HAPPY - b) }, (_, i) =>
          place(sys, { userId: "outcome-happy", amount: 10 + b + i }),
        ),
      );
      // One batch at a time, each done before the next: what a process holds stays under HOLD_SPANS.
      for (const o of batch) await watch.until(o, "SHIPPING_READY");
      first.push(...batch);
    }
    const happyCount = spanCount(HAPPY_CHAIN);
    const whole = () => first.filter((o) => ofTrace(o.traceId).length === happyCount);
    await waitUntil(() => whole().length >= ALWAYS_SLOW, {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: `${ALWAYS_SLOW} whole traces of the first ${FIRST_HAPPY} happy orders`,
    }).catch((err: Error) => {
      throw new Error(`${err.message}; whole: ${whole().length}, with spans: ${first.filter((o) => ofTrace(o.traceId).length > 0).length}`);
    });
    for (const o of whole()) expect(new Set(ofTrace(o.traceId).map((s) => s.serviceName))).toEqual(new Set(SERVICE_NAMES));

    const sampledOutBefore = await countersOf(sys, "orderstream_trace_spans_sampled_out_total");
    const later: Placed[] = [];
    for (let b = 0; b < LATER_HAPPY; b += LATER_BATCH) {
      const batch = await Promise.all(
        Array.from({ length: LATER_BATCH }, (_, i) => place(sys, { userId: "outcome-later", amount: 10 + b + i })),
      );
      for (const o of batch) await watch.until(o, "SHIPPING_READY");
      later.push(...batch);
    }
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const seen = later.filter((o) => ofTrace(o.traceId).length > 0);
    console.log(`outcome sampling: ${seen.length} of ${LATER_HAPPY} later happy orders judged slow and exported`);
    expect(seen.length, `later happy orders with spans: ${seen.map((o) => o.orderId).join(", ")}`).toBeLessThanOrEqual(LATER_SEEN_AT_MOST);

    // Each process made at least 2 spans of each later order, more than it holds: it let some go.
    const sampledOutAfter = await countersOf(sys, "orderstream_trace_spans_sampled_out_total");
    sys.services.forEach((s, i) => {
      expect(sampledOutAfter[i]!, `${s.name}: spans sampled out before ${sampledOutBefore[i]}`).toBeGreaterThan(sampledOutBefore[i]!);
    });
    // Notification kept the three failed orders' traces, the cancel's, and every slow one.
    const kept = await counter(sys.notificationUrl, "orderstream_traces_kept_total");
    expect(kept).toBeGreaterThanOrEqual(ALWAYS_SLOW + 4);
    expect(receiver.rejected()).toEqual([]);
  });
});
