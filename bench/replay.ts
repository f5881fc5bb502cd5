/**
 * Replay: fills ORDERS with synthetic, valid happy-path histories (ORDER_CREATED, PAYMENT_COMPLETED,
 * SHIPPING_READY per order, published straight to JetStream with the same subjects, msg ids and
 * traceparent headers the services write), then times `rebuildOrderViews` from sequence 1 against
 * a bare ordered read of the same stream.
 */
import { performance } from "node:perf_hooks";
import { randomBytes, randomUUID } from "node:crypto";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import type { EventDraft } from "../shared/events.ts";
import { completeEvent } from "../nats/publish-event.ts";
import { ensureOrderStreams } from "../nats/setup.ts";
import { eventSubject, ORDERS_STREAM } from "../nats/subjects.ts";
import { rebuildOrderViews } from "../services/order/rebuild-view.ts";
import { orderedRead } from "./raw.ts";

export interface ReplayResult {
  events: number;
  orders: number;
  fillPerSec: number;
  /** the whole rebuild: read, validate, fold */
  rebuildPerSec: number;
  rebuildSeconds: number;
  /** a bare ordered consumer over the same stream, just before the rebuild */
  rawReadPerSec: number;
}

/** Fills ORDERS with `orders` × 3 events, 1,000 publishes in flight, in stream order per order. */
export async function fill(js: JetStreamClient, orders: number): Promise<{ events: number; perSec: number }> {
  const encoder = new TextEncoder();
  const base = Date.now() - orders * 10;
  const prepared: { subject: string; body: Uint8Array; msgID: string; traceparent: string }[] = [];
  for (let i = 0; i < orders; i++) {
    const orderId = randomUUID();
    const userId = `replay-u${i % 100}`;
    const traceparent = `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-01`;
    const drafts: EventDraft[] = [
      {
        eventType: "ORDER_CREATED",
        orderId,
        userId,
        amount: 25.5,
        currency: "USD",
        items: [{ sku: "BENCH-1", quantity: 2, unitPrice: 12.75 }],
      },
      { eventType: "PAYMENT_COMPLETED", orderId, userId, paymentId: randomUUID(), amount: 25.5, currency: "USD" },
      { eventType: "SHIPPING_READY", orderId, userId, shippingId: randomUUID() },
    ];
    for (const [k, draft] of drafts.entries()) {
      const event = await completeEvent(draft, new Date(base + i * 10 + k));
      prepared.push({
        subject: eventSubject(orderId, event.eventType),
        body: encoder.encode(JSON.stringify(event)),
        msgID: event.eventId,
        traceparent,
      });
    }
  }
  let next = 0;
  const started = performance.now();
  // Each worker takes the next event and publishes at once, so publishes leave in index order.
  const worker = async () => {
    while (next < prepared.length) {
      const p = prepared[next++]!;
      const h = natsHeaders();
      h.set("traceparent", p.traceparent);
      await js.publish(p.subject, p.body, { msgID: p.msgID, headers: h });
    }
  };
  await Promise.all(Array.from({ length: 1_000 }, worker));
  return { events: prepared.length, perSec: prepared.length / ((performance.now() - started) / 1000) };
}

export async function replayBench(js: JetStreamClient, jsm: JetStreamManager, minEvents: number): Promise<ReplayResult> {
  await ensureOrderStreams(jsm, 1);
  const filled = await fill(js, Math.ceil(minEvents / 3));
  const raw = await orderedRead(js, jsm, ORDERS_STREAM);
  const started = performance.now();
  const result = await rebuildOrderViews(js, jsm);
  const seconds = (performance.now() - started) / 1000;
  return {
    events: result.events,
    orders: result.orders,
    fillPerSec: filled.perSec,
    rebuildPerSec: result.events / seconds,
    rebuildSeconds: seconds,
    rawReadPerSec: raw.perSec,
  };
}
