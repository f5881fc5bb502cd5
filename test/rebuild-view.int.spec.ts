/**
 * rebuildOrderView against a real nats-server: the pipelined writes (early creates of settled
 * orders, replaced when a later event changes them), the compare-and-set fallback for entries that
 * exist, and the write pipe on its own (refusals, no-responders, writes that get no answer).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { startNatsServer, type NatsServerHandle } from "./support/nats-server.ts";
import { bucketOptions, ensureBucket, ensureOrderStreams } from "../nats/setup.ts";
import { BUCKETS, eventSubject } from "../nats/subjects.ts";
import { completeEvent } from "../nats/publish-event.ts";
import { openKvWritePipe } from "../nats/kv-write-pipe.ts";
import type { EventDraft, OrderEvent } from "../shared/events.ts";
import { foldOrder, type OrderState } from "../services/order/domain/order.ts";
import { rebuildOrderView, type RebuildProgress } from "../services/order/rebuild-view.ts";

let server: NatsServerHandle;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let kv: KV;
/** Every valid event published, per order, with its sequence; and each order's traceparent. */
let histories: Map<string, { events: OrderEvent[]; lastSeq: number; traceparent: string }>;
let serial = 0;

beforeEach(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  await ensureOrderStreams(jsm, 1);
  kv = await ensureBucket(nc, jsm, BUCKETS.orderViews, bucketOptions.state);
  histories = new Map();
});

afterEach(async () => {
  await nc?.close();
  await server?.stop();
});

function newOrderId(): string {
  return `rv-${process.pid}-${++serial}`;
}

/** Publishes one event of an order the way the services do (subject, msg id, traceparent). */
async function publish(orderId: string, draft: Omit<EventDraft, "orderId" | "userId">): Promise<number> {
  const event = completeEvent({ ...draft, orderId, userId: "rv-user" } as EventDraft);
  const history = histories.get(orderId) ?? { events: [], lastSeq: 0, traceparent: `00-${"a".repeat(24)}${String(serial).padStart(8, "0")}-${"b".repeat(16)}-01` };
  histories.set(orderId, history);
  const h = headers();
  h.set("traceparent", history.traceparent);
  const ack = await js.publish(eventSubject(orderId, event.eventType), JSON.stringify(event), { msgID: event.eventId, headers: h });
  history.events.push(event);
  history.lastSeq = ack.seq;
  return ack.seq;
}

const created = { eventType: "ORDER_CREATED", amount: 20, currency: "USD", items: [{ sku: "A-1", quantity: 1, unitPrice: 20 }] } as const;
const paid = { eventType: "PAYMENT_COMPLETED", paymentId: "pay-1", amount: 20, currency: "USD" } as const;
const shipped = { eventType: "SHIPPING_READY", shippingId: "ship-1" } as const;

/** What the live projection would hold for an order: the fold of its events, at its last sequence. */
function expectedEntry(orderId: string): { state: OrderState; lastSeq: number } {
  const h = histories.get(orderId)!;
  const state = foldOrder(h.events);
  if (state) state.traceId = h.traceparent.split("-")[1];
  return { state, lastSeq: h.lastSeq };
}

async function entry(orderId: string): Promise<unknown> {
  return (await kv.get(orderId))?.json() ?? null;
}

async function kvState(): Promise<{ messages: number; lastSeq: number }> {
  const s = (await jsm.streams.info(`KV_${BUCKETS.orderViews}`)).state;
  return { messages: s.messages, lastSeq: s.last_seq };
}

describe("rebuildOrderView", () => {
  it("rebuilds into an empty bucket: every order once, at its last sequence, as the live fold has it", async () => {
    const happy = Array.from({ length: 40 }, newOrderId);
    for (const id of happy) for (const d of [created, paid, shipped]) await publish(id, d);
    // Shipped first, so written early, then a late cancel request (shipping won): replaced at the end.
    const late = newOrderId();
    for (const d of [created, paid, shipped]) await publish(late, d);
    const open = newOrderId(); // never settles: written at the end
    await publish(open, created);
    const declined = newOrderId();
    for (const d of [created, { eventType: "PAYMENT_FAILED", reason: "limit" } as const, { eventType: "ORDER_CANCELLED", cancelReason: "PAYMENT_FAILED" } as const]) {
      await publish(declined, d);
    }
    for (const id of happy.slice(0, 5)) await publish(id, { eventType: "ORDER_CANCEL_REQUESTED" });
    await publish(late, { eventType: "ORDER_CANCEL_REQUESTED" });
    // Two messages the live projection rejects: not JSON, and an event under another order's subject.
    await js.publish(eventSubject(newOrderId(), "ORDER_CREATED"), "not json");
    const other = completeEvent({ ...created, items: [...created.items], orderId: newOrderId(), userId: "rv-user" });
    await js.publish(eventSubject(open, "PAYMENT_COMPLETED"), JSON.stringify(other));

    const seen: RebuildProgress[] = [];
    const result = await rebuildOrderView(js, jsm, kv, (p) => seen.push(p));
    const ids = [...histories.keys()];
    const events = [...histories.values()].reduce((n, h) => n + h.events.length, 0);
    expect(result).toMatchObject({ phase: "done", events: events + 2, invalid: 2, orders: ids.length, written: ids.length, skipped: 0, fallbacks: 0 });
    expect(seen.map((p) => p.phase)).toEqual(["writing", "done"]);
    for (const id of ids) expect(await entry(id), id).toEqual(expectedEntry(id));
    expect(await entry(late)).toMatchObject({ state: { status: "SHIPPING_READY", cancelRequested: true } });
    // One message per order: the late one's early view was replaced, not added to (history 1).
    expect((await kvState()).messages).toBe(ids.length);
    // Settled orders were created while the stream was read; the six that changed later were replaced.
    expect((await kvState()).lastSeq).toBe(ids.length + 6);

    // A second run finds every entry at its sequence and writes nothing.
    const before = await kvState();
    const again = await rebuildOrderView(js, jsm, kv);
    expect(again).toMatchObject({ written: 0, skipped: ids.length, fallbacks: ids.length });
    expect(await kvState()).toEqual(before);
  });

  it("leaves an entry the live service moved past alone, and moves one that is behind forward", async () => {
    const ahead = newOrderId();
    const behind = newOrderId();
    const deleted = newOrderId();
    const fresh = newOrderId();
    for (const id of [ahead, behind, deleted, fresh]) for (const d of [created, paid, shipped]) await publish(id, d);
    const live = { state: { marker: "written by the live service" }, lastSeq: 1_000_000 };
    await kv.create(ahead, JSON.stringify(live));
    await kv.create(behind, JSON.stringify({ state: { marker: "old" }, lastSeq: 1 }));
    await kv.create(deleted, JSON.stringify({ state: { marker: "old" }, lastSeq: 1 }));
    await kv.delete(deleted);

    const result = await rebuildOrderView(js, jsm, kv);
    expect(result).toMatchObject({ orders: 4, written: 3, skipped: 1, fallbacks: 3 });
    expect(await entry(ahead)).toEqual(live);
    for (const id of [behind, deleted, fresh]) expect(await entry(id), id).toEqual(expectedEntry(id));
  });

  it("writes through the compare-and-set path alone when the KV handle is not a nats.js bucket", async () => {
    const ids = Array.from({ length: 5 }, newOrderId);
    for (const id of ids) for (const d of [created, paid]) await publish(id, d);
    await kv.create(ids[0]!, JSON.stringify({ state: { marker: "ahead" }, lastSeq: 1_000_000 }));
    const plain = {
      get: (k: string) => kv.get(k),
      put: (k: string, v: string, o?: { previousSeq?: number }) => kv.put(k, v, o),
    } as unknown as KV;
    const result = await rebuildOrderView(js, jsm, plain);
    expect(result).toMatchObject({ orders: 5, written: 4, skipped: 1, fallbacks: 5 });
    for (const id of ids.slice(1)) expect(await entry(id), id).toEqual(expectedEntry(id));
  });

  it("rebuilds nothing from an empty stream", async () => {
    expect(await rebuildOrderView(js, jsm, kv)).toMatchObject({ phase: "done", events: 0, orders: 0, written: 0 });
  });
});

describe("openKvWritePipe", () => {
  it("creates, replaces only the expected revision, and reports refusals with revision 0", async () => {
    const replies: [number, number][] = [];
    const pipe = openKvWritePipe(kv, (token, revision) => replies.push([token, revision]))!;
    try {
      await pipe.write(1, "k1", "v1", 0);
      await pipe.write(2, "k2", "v2", 0);
      expect(await pipe.settle()).toEqual([]);
      const rev1 = replies.find(([t]) => t === 1)![1];
      expect(rev1).toBeGreaterThan(0);
      await pipe.write(3, "k1", "again", 0); // exists: refused
      await pipe.write(4, "k1", "v1b", rev1); // the expected revision: replaced
      expect(await pipe.settle()).toEqual([]);
      await pipe.write(5, "k1", "stale", rev1); // that revision is gone now
      expect(await pipe.settle()).toEqual([]);
      const byToken = new Map(replies);
      expect(byToken.get(3)).toBe(0);
      expect(byToken.get(4)).toBeGreaterThan(rev1);
      expect(byToken.get(5)).toBe(0);
      expect(new TextDecoder().decode((await kv.get("k1"))!.value)).toBe("v1b");
    } finally {
      pipe.close();
    }
  });

  it("returns the writes that got no reply once the idle timeout passes; no stream at all is a refusal", async () => {
    const ghost = await new Kvm(nc).open("ghost", { bindOnly: true });
    const replies: [number, number][] = [];
    // No stream and no subscriber: the server answers "no responders", i.e. refused.
    const pipe = openKvWritePipe(ghost, (token, revision) => replies.push([token, revision]), { idleTimeoutMs: 300 })!;
    try {
      await pipe.write(1, "k", "v", 0);
      expect(await pipe.settle()).toEqual([]);
      expect(replies).toEqual([[1, 0]]);
      // Someone listens but never answers: after the idle timeout the write is reported unanswered.
      const silent = nc.subscribe("$KV.ghost.>");
      await nc.flush();
      await pipe.write(2, "k", "v", 0);
      await pipe.write(3, "k2", "v", 0);
      expect((await pipe.settle()).sort()).toEqual([2, 3]);
      silent.unsubscribe();
    } finally {
      pipe.close();
    }
  });
});
