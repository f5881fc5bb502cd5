/**
 * The cancel race: 40 orders each cancelled right after creation (0-20 ms later). Whoever wins, an
 * order never both ships and is cancelled, and a refund happens exactly when a charge did.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getJson, postOrder, startSystem, waitForStatus, type System } from "./support/system.ts";

const ORDERS = 40;
/** Orders fired alongside the first wave to load payment (not cancelled, not checked). */
const FILLER = 60;
const FINAL = ["SHIPPING_READY", "CANCELLED"];
/** [first index, size] of each wave of orders fired together. */
const WAVES: [number, number][] = [
  [0, 20],
  [20, 8],
  [28, 4],
  [32, 4],
  [36, 2],
  [38, 2],
];

let sys: System;

beforeAll(async () => {
  sys = await startSystem();
});

afterAll(async () => {
  await sys?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Outcome {
  orderId: string;
  delayMs: number;
  cancelStatus: number;
  status: string;
  cancelReason?: string;
  types: string[];
}

async function raceOne(i: number): Promise<Omit<Outcome, "status" | "types" | "cancelReason">> {
  const delayMs = i % 21;
  const created = await postOrder(sys.orderUrl, {
    userId: `race-${i % 5}`,
    amount: 10 + i,
    items: [{ sku: `SKU-${i}`, quantity: 1, unitPrice: 10 + i }],
  });
  expect(created.status).toBe(201);
  const orderId = created.body.orderId as string;
  if (delayMs > 0) await sleep(delayMs);
  const res = await fetch(`${sys.orderUrl}/orders/${orderId}/cancel`, { method: "POST" });
  const text = await res.text();
  expect([202, 409], text).toContain(res.status);
  return { orderId, delayMs, cancelStatus: res.status };
}

describe("cancel right after create", () => {
  it("never both SHIPPING_READY and ORDER_CANCELLED; refund iff charged when cancelled; none when shipped", async () => {
    // Waves of different sizes: a big burst (plus filler) queues orders behind payment, so the cancel
    // tends to win; small waves let payment and shipping keep up, so shipping tends to win.
    const fired: Awaited<ReturnType<typeof raceOne>>[] = [];
    const filler: Promise<unknown>[] = [];
    for (const [w, [start, size]] of WAVES.entries()) {
      // The first wave races against a burst of other orders, so payment lags behind the cancels.
      if (w === 0) {
        for (let k = 0; k < FILLER; k++) filler.push(postOrder(sys.orderUrl, { userId: "race-filler", amount: 1 + k }));
      }
      const wave = await Promise.all(Array.from({ length: size }, (_, k) => raceOne(start + k)));
      fired.push(...wave);
    }
    await Promise.all(filler);
    expect(fired).toHaveLength(ORDERS);
    expect(new Set(fired.map((f) => f.orderId)).size).toBe(ORDERS);

    const outcomes: Outcome[] = [];
    for (const f of fired) {
      const view = await waitForStatus(sys.orderUrl, f.orderId, FINAL, 30_000);
      const { body } = await getJson(`${sys.orderUrl}/orders/${f.orderId}/events`);
      outcomes.push({ ...f, status: view.status, cancelReason: view.cancelReason, types: body.map((e: any) => e.eventType) });
    }
    // Give any late compensation a moment to show (it must not).
    await sleep(500);

    const problems: string[] = [];
    for (const o of outcomes) {
      const { body } = await getJson(`${sys.orderUrl}/orders/${o.orderId}/events`);
      const types: string[] = body.map((e: any) => e.eventType);
      const seqs: number[] = body.map((e: any) => e.seq);
      const has = (t: string) => types.includes(t);
      const say = (what: string) =>
        problems.push(`${o.orderId} (delay ${o.delayMs} ms, cancel ${o.cancelStatus}, ${o.status}): ${what} — ${types.join(",")}`);
      if (JSON.stringify(types) !== JSON.stringify(o.types)) say("events changed after the final state");
      if (new Set(types).size !== types.length) say("an event type appears twice");
      if (seqs.some((s, k) => k > 0 && s <= seqs[k - 1]!)) say("events not in stream order");
      if (types[0] !== "ORDER_CREATED") say("first event is not ORDER_CREATED");
      if (has("SHIPPING_READY") && has("ORDER_CANCELLED")) say("both SHIPPING_READY and ORDER_CANCELLED");
      if (o.cancelStatus === 202 && !has("ORDER_CANCEL_REQUESTED")) say("202 without ORDER_CANCEL_REQUESTED");
      if (o.cancelStatus === 409 && has("ORDER_CANCEL_REQUESTED")) say("409 but ORDER_CANCEL_REQUESTED was written");
      if (o.cancelStatus === 409 && o.status !== "SHIPPING_READY") say("409 for an order that was not yet shipped");
      if (o.status === "CANCELLED") {
        if (has("SHIPPING_READY")) say("CANCELLED but SHIPPING_READY");
        if (has("PAYMENT_REFUNDED") !== has("PAYMENT_COMPLETED")) say("CANCELLED: refund present iff charge present is violated");
        if (!has("ORDER_CANCELLED")) say("CANCELLED without ORDER_CANCELLED");
        if (o.cancelReason !== "CUSTOMER_REQUEST") say(`cancelReason ${o.cancelReason}`);
        // The customer won: the cancel sits before the charge in the stream.
        const cancelAt = types.indexOf("ORDER_CANCEL_REQUESTED");
        const chargeAt = types.indexOf("PAYMENT_COMPLETED");
        if (chargeAt >= 0 && cancelAt > chargeAt) say("cancelled although the charge came first");
      } else {
        if (has("PAYMENT_REFUNDED")) say("SHIPPING_READY but refunded");
        if (has("ORDER_CANCELLED")) say("SHIPPING_READY but ORDER_CANCELLED");
        if (!has("PAYMENT_COMPLETED")) say("SHIPPING_READY without PAYMENT_COMPLETED");
      }
    }

    const cancelled = outcomes.filter((o) => o.status === "CANCELLED");
    const shipped = outcomes.filter((o) => o.status === "SHIPPING_READY");
    const summary = {
      cancelled: cancelled.length,
      cancelledAfterRefund: cancelled.filter((o) => o.types.includes("PAYMENT_REFUNDED")).length,
      shipped: shipped.length,
      shippedAfterCancelRequest: shipped.filter((o) => o.types.includes("ORDER_CANCEL_REQUESTED")).length,
      cancel409: outcomes.filter((o) => o.cancelStatus === 409).length,
    };
    console.log(`cancel race outcomes: ${JSON.stringify(summary)}`);
    expect(problems).toEqual([]);
    expect(cancelled.length + shipped.length).toBe(ORDERS);
  });
});
