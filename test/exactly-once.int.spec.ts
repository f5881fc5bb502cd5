/**
 * Effectively-once: every event delivered again to services that remember nothing of the orders
 * (restarted, consumers recreated from sequence 1) changes nothing — no new order event, no second
 * notification, the same outcomes; and publishing an already-published event again does not grow
 * the stream.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, JetStreamApiError, type JetStreamManager } from "@nats-io/jetstream";
import { getJson, postOrder, startSystem, waitForStatus, type System } from "./support/system.ts";
import { waitUntil, type ServiceName } from "./support/processes.ts";
import { createEventPublisher } from "../nats/publish-event.ts";
import { createJetStreamPublisher } from "../nats/jetstream-publisher.ts";
import { CONSUMED_EVENT_TYPES, consumerNames, LANES } from "../nats/subjects.ts";
import type { EventDraft, OrderEvent } from "../shared/events.ts";

const SERVICES: ServiceName[] = ["order", "payment", "shipping", "notification"];
const FINAL = ["SHIPPING_READY", "CANCELLED"];
const USERS = ["eo-a", "eo-b", "eo-c", "eo-d", "eo-e"];

let sys: System;
let nc: NatsConnection;
let jsm: JetStreamManager;
/** Base URLs of the current order and notification instances (they change on restart). */
let orderUrl: string;
let notificationUrl: string;

interface Snapshot {
  ordersCount: number;
  notificationsCount: number;
  events: Map<string, { seq: number; eventType: string; eventId: string }[]>;
  views: Map<string, { status: string; cancelReason?: string; paymentId?: string; shippingId?: string }>;
  notifications: Map<string, string[]>;
}

beforeAll(async () => {
  sys = await startSystem({ env: { PAYMENT_LIMIT: "1000" } });
  orderUrl = sys.orderUrl;
  notificationUrl = sys.notificationUrl;
  nc = await connect({ servers: sys.nats.url });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await sys?.stop();
});

async function streamCount(name: string): Promise<number> {
  return (await jsm.streams.info(name)).state.messages;
}

/** All the lane consumers exist and have nothing pending or unacknowledged. */
async function allConsumersIdle(timeoutMs = 30_000): Promise<void> {
  await waitUntil(
    async () => {
      const list = await jsm.consumers.list("ORDERS").next();
      return list.length === SERVICES.length * LANES && list.every((c) => c.num_pending === 0 && c.num_ack_pending === 0);
    },
    { timeoutMs, intervalMs: 200, what: "every ORDERS consumer to have num_pending 0 and num_ack_pending 0" },
  );
}

async function snapshot(orderIds: string[]): Promise<Snapshot> {
  const events = new Map<string, { seq: number; eventType: string; eventId: string }[]>();
  const views = new Map<string, { status: string; cancelReason?: string; paymentId?: string; shippingId?: string }>();
  for (const id of orderIds) {
    const ev = await getJson(`${orderUrl}/orders/${id}/events`);
    expect(ev.status).toBe(200);
    events.set(
      id,
      ev.body.map((e: any) => ({ seq: e.seq, eventType: e.eventType, eventId: e.data.eventId })),
    );
    const view = await getJson(`${orderUrl}/orders/${id}`);
    expect(view.status).toBe(200);
    const { status, cancelReason, paymentId, shippingId } = view.body;
    views.set(id, { status, cancelReason, paymentId, shippingId });
  }
  const notifications = new Map<string, string[]>();
  for (const user of USERS) {
    const res = await getJson(`${notificationUrl}/users/${user}/notifications`);
    expect(res.status).toBe(200);
    notifications.set(
      user,
      res.body.map((n: { eventId: string }) => n.eventId),
    );
  }
  return {
    ordersCount: await streamCount("ORDERS"),
    notificationsCount: await streamCount("NOTIFICATIONS"),
    events,
    views,
    notifications,
  };
}

describe("redelivery of every event to services that remember nothing", () => {
  let orderIds: string[] = [];
  let before: Snapshot;

  it("a batch of 30 mixed orders finishes", async () => {
    const bodies = Array.from({ length: 30 }, (_, i) => {
      const userId = USERS[i % USERS.length]!;
      switch (i % 3) {
        case 0:
          return { userId, amount: 10 + i };
        case 1:
          return { userId, amount: 2000 + i }; // declined: above PAYMENT_LIMIT
        default:
          return { userId, amount: 20, items: [{ sku: "OUT-OF-STOCK", quantity: 2, unitPrice: 10 }] };
      }
    });
    const created = await Promise.all(bodies.map((b) => postOrder(orderUrl, b)));
    expect(created.map((c) => c.status)).toEqual(Array(30).fill(201));
    orderIds = created.map((c) => c.body.orderId);
    for (const id of orderIds) await waitForStatus(orderUrl, id, FINAL, 30_000);
    await allConsumersIdle();

    before = await snapshot(orderIds);
    const kinds = orderIds.map((id, i) => [i % 3, before.views.get(id)!] as const);
    for (const [kind, view] of kinds) {
      if (kind === 0) expect(view.status).toBe("SHIPPING_READY");
      if (kind === 1) expect(view).toMatchObject({ status: "CANCELLED", cancelReason: "PAYMENT_FAILED" });
      if (kind === 2) expect(view).toMatchObject({ status: "CANCELLED", cancelReason: "SHIPPING_FAILED" });
    }
    const totalEvents = [...before.events.values()].reduce((n, e) => n + e.length, 0);
    expect(totalEvents).toBe(10 * 3 + 10 * 3 + 10 * 5);
    expect(before.ordersCount).toBe(totalEvents);
    expect(before.notificationsCount).toBe(totalEvents);
    for (const user of USERS) expect(before.notifications.get(user)).toHaveLength(totalEvents / USERS.length);
  });

  it("stopping the services and deleting their consumers, then restarting, changes nothing", async () => {
    expect(before).toBeDefined();
    // Stop every service (drain, exit 0): what they remembered of the orders is gone with them.
    const codes = await Promise.all(sys.services.map((s) => s.stop("SIGTERM")));
    expect(codes).toEqual(codes.map(() => 0));

    // Every consumer goes; at start-up they are made again from sequence 1, so everything is redelivered.
    const consumers = await jsm.consumers.list("ORDERS").next();
    expect(consumers).toHaveLength(SERVICES.length * LANES);
    for (const c of consumers) await jsm.consumers.delete("ORDERS", c.name);
    expect(await jsm.consumers.list("ORDERS").next()).toHaveLength(0);

    const started = await Promise.all(SERVICES.map((name) => sys.add(name)));
    orderUrl = started[0]!.baseUrl;
    notificationUrl = started[3]!.baseUrl;
    await allConsumersIdle(60_000);
    // Every service's consumers really went through the whole stream again: every event of the types it acts on.
    const consumersNow = await jsm.consumers.list("ORDERS").next();
    for (const service of SERVICES) {
      let wanted = 0;
      for (const type of CONSUMED_EVENT_TYPES[service]) {
        const subjects = (await jsm.streams.info("ORDERS", { subjects_filter: `orders.*.*.${type}` })).state.subjects ?? {};
        wanted += Object.values(subjects).reduce((n, k) => n + k, 0);
      }
      const delivered = consumersNow
        .filter((c) => consumerNames(service).includes(c.name))
        .reduce((n, c) => n + c.delivered.consumer_seq, 0);
      expect(wanted, service).toBeGreaterThan(0);
      expect(delivered, service).toBeGreaterThanOrEqual(wanted);
    }

    const after = await snapshot(orderIds);
    expect(after.ordersCount).toBe(before.ordersCount);
    expect(after.notificationsCount).toBe(before.notificationsCount);
    expect(after.events).toEqual(before.events);
    expect(after.views).toEqual(before.views);
    for (const user of USERS) {
      const ids = after.notifications.get(user)!;
      expect(new Set(ids).size, user).toBe(ids.length);
      expect(ids, user).toEqual(before.notifications.get(user));
    }
    // The notification service keeps no per-order state (the NOTIFICATIONS guard is its fence); it
    // did handle every event again: its counters started from zero.
    const metrics = await (await fetch(`${notificationUrl}/metrics`)).text();
    const handledOk = metrics
      .split("\n")
      .filter((line) => line.startsWith("orderstream_events_handled_total{") && line.includes('outcome="ok"'))
      .reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);
    expect(handledOk).toBeGreaterThanOrEqual(before.ordersCount);
  });
});

describe("publishing an already-published event again", () => {
  it("the same message id, a new id guarded by lastSubjectSequence 0, and the project's own publisher all leave the stream as it was", async () => {
    const created = await postOrder(orderUrl, { userId: "eo-republish", amount: 11 });
    expect(created.status).toBe(201);
    const orderId = created.body.orderId as string;
    await waitForStatus(orderUrl, orderId, FINAL);
    await allConsumersIdle();
    const { body: events } = await getJson(`${orderUrl}/orders/${orderId}/events`);
    const first = events[0] as { seq: number; subject: string; data: OrderEvent };
    const stored = await jsm.streams.getMessage("ORDERS", { seq: first.seq });
    if (!stored) throw new Error(`ORDERS has no message at ${first.seq}`);
    expect(stored.subject).toBe(first.subject);
    const countBefore = await streamCount("ORDERS");

    const js = jetstream(nc);
    // 1. Byte-for-byte copy, stored headers included: they carry the original's "no message on
    // this subject yet" expectation, which a current single server checks before the message id —
    // refused (on a replicated stream the dedup answers first, with the original sequence).
    const copy = await js.publish(stored.subject, stored.data, { headers: stored.header }).then(
      () => null,
      (err: unknown) => err,
    );
    expect((copy as JetStreamApiError).code).toBe(10071);
    // The same body and Nats-Msg-Id without the expectation: the dedup answers with the original sequence.
    const h = headers();
    for (const key of stored.header.keys()) if (!/^nats-expected/i.test(key)) h.set(key, stored.header.get(key));
    const dup = await js.publish(stored.subject, stored.data, { msgID: first.data.eventId, headers: h });
    expect(dup.duplicate).toBe(true);
    expect(dup.seq).toBe(first.seq);
    expect(await streamCount("ORDERS")).toBe(countBefore);

    // 2. A new message id, but "no message on this subject yet" expected: refused (outlives the dedup window).
    const refused = await js
      .publish(stored.subject, stored.data, { msgID: `${first.data.eventId}-again`, expect: { lastSubjectSequence: 0 } })
      .then(
        () => null,
        (err: unknown) => err,
      );
    expect(refused).toBeInstanceOf(JetStreamApiError);
    expect((refused as JetStreamApiError).code).toBe(10071);
    expect(await streamCount("ORDERS")).toBe(countBefore);

    // 3. The services' own publisher, given the same logical event (a fresh draft: new time, same id).
    const publisher = createEventPublisher(createJetStreamPublisher(nc), jsm);
    for (const e of events as { seq: number; data: OrderEvent }[]) {
      const { eventId: _id, occurredAt: _at, schemaVersion: _v, ...draft } = e.data;
      const result = await publisher.publish(draft as EventDraft);
      expect(result.duplicate).toBe(true);
      expect(result.seq).toBe(e.seq);
      expect(result.event.eventId).toBe(e.data.eventId);
      expect(result.event.occurredAt).toBe(e.data.occurredAt);
    }
    expect(await streamCount("ORDERS")).toBe(countBefore);

    // Nothing was redelivered as new work: the order's history and outcome are as they were.
    await allConsumersIdle();
    const again = await getJson(`${orderUrl}/orders/${orderId}/events`);
    expect(again.body.map((e: { seq: number }) => e.seq)).toEqual(events.map((e: { seq: number }) => e.seq));
    expect((await getJson(`${orderUrl}/orders/${orderId}`)).body.status).toBe("SHIPPING_READY");
  });
});
