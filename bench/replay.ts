/**
 * Replay: fills ORDERS with synthetic, valid happy-path histories (ORDER_CREATED, PAYMENT_COMPLETED,
 * SHIPPING_READY per order, published straight to JetStream with the same subjects, msg ids and
 * traceparent headers the services write), then times `rebuildOrderView` from sequence 1.
 */
import { performance } from "node:perf_hooks";
import { randomBytes, randomUUID } from "node:crypto";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import type { EventDraft } from "../shared/events.ts";
import { completeEvent } from "../nats/publish-event.ts";
import { bucketOptions, ensureBucket, ensureOrderStreams } from "../nats/setup.ts";
import { BUCKETS, eventSubject, ORDERS_STREAM } from "../nats/subjects.ts";
import { rebuildOrderView } from "../services/order/rebuild-view.ts";
import { orderedRead } from "./raw.ts";

export interface ReplayResult {
  events: number;
  orders: number;
  fillPerSec: number;
  /** whole rebuild (read + fold + KV writes) */
  rebuildPerSec: number;
  /** up to the end of the reading + folding phase (which also writes the settled orders' views early) */
  readFoldPerSec: number;
  rebuildSeconds: number;
  /** a bare ordered consumer over the same stream, just before the rebuild */
  rawReadPerSec: number;
  written: number;
  /** entries written through the load + compare-and-set path instead of the pipelined create */
  fallbacks: number;
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
      { eventType: "ORDER_CREATED", orderId, userId, amount: 25.5, currency: "USD", items: [{ sku: "BENCH-1", quantity: 2, unitPrice: 12.75 }] },
      { eventType: "PAYMENT_COMPLETED", orderId, userId, paymentId: randomUUID(), amount: 25.5, currency: "USD" },
      { eventType: "SHIPPING_READY", orderId, userId, shippingId: randomUUID() },
    ];
    for (const [k, draft] of drafts.entries()) {
      const event = await completeEvent(draft, new Date(base + i * 10 + k));
      prepared.push({ subject: eventSubject(orderId, event.eventType), body: encoder.encode(JSON.stringify(event)), msgID: event.eventId, traceparent });
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

export async function replayBench(nc: NatsConnection, js: JetStreamClient, jsm: JetStreamManager, minEvents: number): Promise<ReplayResult> {
  await ensureOrderStreams(jsm, 1);
  const kv = await ensureBucket(nc, jsm, BUCKETS.orderViews, bucketOptions.state);
  const filled = await fill(js, Math.ceil(minEvents / 3));
  const raw = await orderedRead(js, jsm, ORDERS_STREAM);
  const started = performance.now();
  let readDoneAt = NaN;
  const result = await rebuildOrderView(js, jsm, kv, (p) => {
    if (p.phase === "writing" && Number.isNaN(readDoneAt)) readDoneAt = performance.now();
  });
  const seconds = (performance.now() - started) / 1000;
  return {
    events: result.events,
    orders: result.orders,
    fillPerSec: filled.perSec,
    rebuildPerSec: result.events / seconds,
    readFoldPerSec: result.events / ((readDoneAt - started) / 1000),
    rebuildSeconds: seconds,
    rawReadPerSec: raw.perSec,
    written: result.written,
    fallbacks: result.fallbacks,
  };
}
