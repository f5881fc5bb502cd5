/**
 * rebuildOrderViews against a real nats-server: every order folded again from sequence 1 with the
 * API's own validation and evolve, counted by status; invalid messages and orders without an
 * ORDER_CREATED before their events are counted, not folded; progress (done of total) is reported.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { headers } from "@nats-io/transport-node";
import { useNatsServer } from "../../test/support/use-nats-server.ts";
import { ensureOrderStreams } from "../../nats/setup.ts";
import { eventSubject } from "../../nats/subjects.ts";
import { completeEvent } from "../../nats/publish-event.ts";
import type { EventDraft, OrderEvent } from "../../shared/events.ts";
import { foldOrder } from "./domain/order.ts";
import { rebuildOrderViews, type RebuildProgress } from "./rebuild-view.ts";

// A fresh server per test: each one counts a whole stream of its own.
const nats = useNatsServer({ per: "test" });
/** Every valid event published, per order. */
let histories: Map<string, OrderEvent[]>;
let serial = 0;

beforeEach(async () => {
  await ensureOrderStreams(nats.jsm, 1);
  histories = new Map();
});

function newOrderId(): string {
  return `rv-${process.pid}-${++serial}`;
}

/** Publishes one event of an order the way the services do (subject, msg id, traceparent). */
async function publish(orderId: string, draft: Omit<EventDraft, "orderId" | "userId">): Promise<number> {
  const event = completeEvent({ ...draft, orderId, userId: "rv-user" } as EventDraft);
  histories.set(orderId, [...(histories.get(orderId) ?? []), event]);
  const h = headers();
  h.set("traceparent", `00-${"a".repeat(24)}${String(serial).padStart(8, "0")}-${"b".repeat(16)}-01`);
  const ack = await nats.js.publish(eventSubject(orderId, event.eventType), JSON.stringify(event), { msgID: event.eventId, headers: h });
  return ack.seq;
}

const created = { eventType: "ORDER_CREATED", amount: 20, currency: "USD", items: [{ sku: "A-1", quantity: 1, unitPrice: 20 }] } as const;
const paid = { eventType: "PAYMENT_COMPLETED", paymentId: "pay-1", amount: 20, currency: "USD" } as const;
const shipped = { eventType: "SHIPPING_READY", shippingId: "ship-1" } as const;

describe("rebuildOrderViews", () => {
  it("folds every order from sequence 1 and counts it by status, as the API folds it", async () => {
    const happy = Array.from({ length: 40 }, newOrderId);
    for (const id of happy) for (const d of [created, paid, shipped]) await publish(id, d);
    const open = newOrderId();
    await publish(open, created);
    const paidOnly = newOrderId();
    for (const d of [created, paid]) await publish(paidOnly, d);
    const declined = newOrderId();
    for (const d of [
      created,
      { eventType: "PAYMENT_FAILED", reason: "limit" } as const,
      { eventType: "ORDER_CANCELLED", cancelReason: "PAYMENT_FAILED" } as const,
    ]) {
      await publish(declined, d);
    }
    for (const id of happy.slice(0, 5)) await publish(id, { eventType: "ORDER_CANCEL_REQUESTED" });
    // Two messages the API rejects too: not JSON, and an event under another order's subject.
    await nats.js.publish(eventSubject(newOrderId(), "ORDER_CREATED"), "not json");
    const other = completeEvent({ ...created, items: [...created.items], orderId: newOrderId(), userId: "rv-user" });
    await nats.js.publish(eventSubject(open, "PAYMENT_COMPLETED"), JSON.stringify(other));
    // An order whose first event is not its ORDER_CREATED.
    const orphan = newOrderId();
    await publish(orphan, shipped);

    const seen: RebuildProgress[] = [];
    const result = await rebuildOrderViews(nats.js, nats.jsm, (p) => seen.push(p));
    const events = [...histories.values()].reduce((n, h) => n + h.length, 0);
    const byStatus = { CREATED: 0, PAID: 0, SHIPPING_READY: 0, CANCELLED: 0 };
    for (const [id, h] of histories) {
      const view = foldOrder(h);
      if (view) byStatus[view.status]++;
      else expect(id).toBe(orphan);
    }
    expect(byStatus).toEqual({ CREATED: 1, PAID: 1, SHIPPING_READY: 40, CANCELLED: 1 });
    expect(result).toEqual({
      phase: "done",
      events: events + 2,
      total: events + 2,
      lastSeq: events + 2,
      orders: histories.size,
      invalid: 2,
      orphans: 1,
      byStatus,
    });
    expect(seen.at(-1)).toEqual(result);
  });

  it("reports progress before reading (0 of the total), every 10,000 events, and when done", async () => {
    const id = newOrderId();
    await publish(id, created);
    for (let i = 0; i < 10_000; i++) await nats.js.publish(eventSubject(newOrderId(), "ORDER_CREATED"), "not json");
    const seen: RebuildProgress[] = [];
    const result = await rebuildOrderViews(nats.js, nats.jsm, (p) => seen.push(p));
    expect(seen.map((p) => [p.phase, p.events, p.total])).toEqual([
      ["reading", 0, 10_001],
      ["reading", 10_000, 10_001],
      ["done", 10_001, 10_001],
    ]);
    expect(result).toMatchObject({ orders: 1, invalid: 10_000, byStatus: { CREATED: 1 } });
  });

  it("folds nothing from an empty stream", async () => {
    expect(await rebuildOrderViews(nats.js, nats.jsm)).toMatchObject({ phase: "done", events: 0, total: 0, orders: 0 });
  });
});
