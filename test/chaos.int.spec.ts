/**
 * Chaos: several instances of payment, shipping and notification; 300 orders posted over ~12 s while
 * one instance of each of those services is SIGKILLed (and replaced) and nats-server itself is
 * killed and restarted on its kept store. Afterwards every order is in its final state with exactly
 * its expected events in order, every user was notified once per event in event order, the webhook
 * saw every event (repeats only under the same Idempotency-Key), and nothing was dead-lettered.
 *
 * A message held by a SIGKILLed instance is redelivered only after ack_wait (30 s), and with one
 * message in flight per partition it holds up its partition meanwhile: the drain budget allows that.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { getJson, placeUntilAccepted, startSystem, type System } from "./support/system.ts";
import { waitUntil, type ServiceName, type ServiceProcess } from "./support/processes.ts";
import { listDeadLetters } from "../nats/dead-letters.ts";
import { ORDERS_STREAM, NOTIFICATIONS_STREAM } from "../nats/subjects.ts";

const ORDERS = 300;
const POST_INTERVAL_MS = 40; // 300 × 40 ms ≈ 12 s of posting
const MAX_IN_FLIGHT = 16;
const POST_RETRY_DEADLINE_MS = 45_000;
const PAYMENT_LIMIT = 1000;

type Kind = "happy" | "declined" | "out-of-stock";

const EXPECTED: Record<Kind, { status: string; cancelReason?: string; events: string[] }> = {
  happy: { status: "SHIPPING_READY", events: ["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"] },
  declined: {
    status: "CANCELLED",
    cancelReason: "PAYMENT_FAILED",
    events: ["ORDER_CREATED", "PAYMENT_FAILED", "ORDER_CANCELLED"],
  },
  "out-of-stock": {
    status: "CANCELLED",
    cancelReason: "SHIPPING_FAILED",
    events: ["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_FAILED", "PAYMENT_REFUNDED", "ORDER_CANCELLED"],
  },
};

interface Placed {
  i: number;
  kind: Kind;
  userId: string;
  key: string;
  orderId?: string;
  attempts: number;
  failures: string[];
}

interface WebhookCall {
  key: string | undefined;
  body: { eventId: string; orderId: string; eventType: string; userId: string };
}

let sys: System;
let nc: NatsConnection;
let jsm: JetStreamManager;
let webhook: Server;
const hooks: WebhookCall[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function kindOf(i: number): Kind {
  const r = i % 10;
  return r < 6 ? "happy" : r < 8 ? "declined" : "out-of-stock";
}

function bodyOf(p: Placed) {
  switch (p.kind) {
    case "happy":
      return { userId: p.userId, amount: 10 + (p.i % 50), items: [{ sku: "A-1", quantity: 1, unitPrice: 10 + (p.i % 50) }] };
    case "declined":
      return { userId: p.userId, amount: PAYMENT_LIMIT + 1 + p.i };
    case "out-of-stock":
      return {
        userId: p.userId,
        amount: 30,
        items: [
          { sku: "A-1", quantity: 1, unitPrice: 10 },
          { sku: "OUT-OF-STOCK", quantity: 2, unitPrice: 10 },
        ],
      };
  }
}

/** POST with the same Idempotency-Key until the order is accepted (503 problem+json is expected while NATS is down, nothing else). */
function place(p: Placed): Promise<void> {
  return placeUntilAccepted(sys.orderUrl, p, bodyOf(p), { deadlineMs: POST_RETRY_DEADLINE_MS, requestTimeoutMs: 10_000, intervalMs: 250 });
}

async function partitionConsumers() {
  const list = await jsm.consumers.list(ORDERS_STREAM).next();
  return list.filter((c) => /^(order|payment|shipping|notification)-lane\d$/.test(c.name));
}

async function killAndReplace(name: ServiceName, victim: ServiceProcess, log: string[]): Promise<void> {
  log.push(`${Date.now()}: SIGKILL ${name} pid ${victim.pid}`);
  await victim.kill();
  const fresh = await sys.add(name, { HANDLER_RETRY_BASE_MS: "50" });
  log.push(`${Date.now()}: ${name} replacement pid ${fresh.pid} ready`);
}

/** Messages an instance has settled so far (its /metrics counter, all event types and outcomes). */
async function handledCount(s: ServiceProcess): Promise<number> {
  // Generous: the JetStream gauges wait for the DLQ stream info (and any consumer info they need), slow while NATS is reconnecting.
  const text = await fetch(`${s.baseUrl}/metrics`, { signal: AbortSignal.timeout(20_000) }).then(
    (r) => r.text(),
    (err) => {
      throw new Error(
        `${s.name} pid ${s.pid} did not answer /metrics (${(err as Error).message}); its output:\n${s.output().split("\n").slice(-40).join("\n")}`,
      );
    },
  );
  return text
    .split("\n")
    .filter((l) => l.startsWith("orderstream_events_handled_total{"))
    .reduce((sum, l) => sum + Number(l.split(" ").at(-1)), 0);
}

function startWebhook(): Promise<Server> {
  const server = createServer((req, res) => {
    let text = "";
    req.on("data", (d) => (text += d));
    req.on("end", () => {
      hooks.push({ key: req.headers["idempotency-key"] as string | undefined, body: JSON.parse(text) });
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

beforeAll(async () => {
  webhook = await startWebhook();
  sys = await startSystem({
    env: {
      PAYMENT_LIMIT: String(PAYMENT_LIMIT),
      HANDLER_RETRY_BASE_MS: "50",
      NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`,
    },
    instances: { order: 1, payment: 2, shipping: 2, notification: 2 },
  });
  nc = await connect({ servers: sys.nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await sys?.stop();
  await new Promise<void>((resolve) => (webhook ? webhook.close(() => resolve()) : resolve()));
});

describe("chaos: instances and nats-server killed mid-load", () => {
  it("every order ends right, every event is notified once in order, nothing dead-lettered", async () => {
    const placed: Placed[] = Array.from({ length: ORDERS }, (_, i) => ({
      i,
      kind: kindOf(i),
      userId: `chaos-u${String(Math.floor(i / 10)).padStart(2, "0")}`,
      key: `chaos-${i}-${Date.now()}`,
      attempts: 0,
      failures: [],
    }));
    const chaosLog: string[] = [];
    /** Instances that live through the NATS restart, with what they had handled when it came back. */
    const throughRestart = new Map<ServiceProcess, number>();
    const t0 = Date.now();
    const at = async (ms: number) => sleep(Math.max(0, t0 + ms - Date.now()));

    const killed: Partial<Record<ServiceName, ServiceProcess>> = {};
    // The faults, one after the other, while the orders are being posted.
    const chaos = (async () => {
      await at(2_000);
      killed.payment = sys.of("payment")[0]!;
      await killAndReplace("payment", killed.payment, chaosLog);
      await at(4_500);
      chaosLog.push(`${Date.now()}: SIGKILL nats-server pid ${sys.nats.pid}`);
      await sys.nats.kill();
      // Readiness follows the connection: an instance answers 503 while NATS is down.
      await waitUntil(
        async () => (await fetch(`${sys.of("shipping")[1]!.baseUrl}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 503,
        { timeoutMs: 10_000, what: "/readyz 503 while NATS is down" },
      );
      await sleep(1_000);
      await sys.nats.restart();
      chaosLog.push(`${Date.now()}: nats-server restarted, pid ${sys.nats.pid}`);
      const alive = sys.services.filter((s) => s !== killed.payment);
      for (const s of alive) {
        await waitUntil(async () => (await fetch(`${s.baseUrl}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200, {
          timeoutMs: 20_000,
          what: `${s.name} pid ${s.pid} to be ready again after the NATS restart`,
        });
      }
      chaosLog.push(`${Date.now()}: every instance ready again`);
      for (const s of alive) throughRestart.set(s, await handledCount(s));
      await at(8_000);
      killed.shipping = sys.of("shipping")[0]!;
      await killAndReplace("shipping", killed.shipping, chaosLog);
      await at(10_000);
      killed.notification = sys.of("notification")[0]!;
      await killAndReplace("notification", killed.notification, chaosLog);
    })();

    // The load: a bounded loop, at most MAX_IN_FLIGHT requests at once.
    const inFlight = new Set<Promise<void>>();
    const posts: Promise<void>[] = [];
    for (const p of placed) {
      await at(p.i * POST_INTERVAL_MS);
      while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
      const job: Promise<void> = place(p).finally(() => inFlight.delete(job));
      inFlight.add(job);
      posts.push(job);
    }
    await Promise.all(posts);
    await chaos;
    const postedAfter = Date.now() - t0;
    const retried = placed.filter((p) => p.failures.length > 0);
    console.log(`chaos: posted ${ORDERS} orders in ${postedAfter} ms; ${retried.length} needed retries`);
    console.log(chaosLog.map((l) => l.replace(/^\d+/, (t) => `+${Number(t) - t0} ms`)).join("\n"));

    // One order per Idempotency-Key, however often it was retried.
    expect(new Set(placed.map((p) => p.orderId)).size).toBe(ORDERS);

    // Every order reaches its final state (bounded: killed holders are redelivered after 30 s).
    const views = new Map<string, any>();
    await waitUntil(
      async () => {
        const open = placed.filter((p) => !views.has(p.orderId!));
        for (let k = 0; k < open.length; k += 20) {
          await Promise.all(
            open.slice(k, k + 20).map(async (p) => {
              const { status, body } = await getJson(`${sys.orderUrl}/orders/${p.orderId}`);
              if (status === 200 && body.status === EXPECTED[p.kind].status) views.set(p.orderId!, body);
            }),
          );
        }
        return views.size === ORDERS;
      },
      { timeoutMs: 75_000, intervalMs: 500, what: `all ${ORDERS} orders to reach their final state (${views.size} so far)` },
    );
    await waitUntil(
      async () => {
        const list = await partitionConsumers();
        return list.length === 16 && list.every((c) => c.num_pending === 0 && c.num_ack_pending === 0);
      },
      { timeoutMs: 45_000, intervalMs: 250, what: "every partition consumer to be idle" },
    );
    console.log(`chaos: everything settled ${Date.now() - t0} ms after the first POST`);

    // Each order: its final view and exactly its expected events, in stream order.
    const eventsOf = new Map<string, { seq: number; eventType: string; data: { eventId: string } }[]>();
    for (let k = 0; k < placed.length; k += 20) {
      await Promise.all(
        placed.slice(k, k + 20).map(async (p) => {
          const { status, body } = await getJson(`${sys.orderUrl}/orders/${p.orderId}/events`);
          expect(status).toBe(200);
          eventsOf.set(p.orderId!, body);
        }),
      );
    }
    const wrong: string[] = [];
    for (const p of placed) {
      const want = EXPECTED[p.kind];
      const view = views.get(p.orderId!);
      const evs = eventsOf.get(p.orderId!)!;
      const types = evs.map((e) => e.eventType);
      if (JSON.stringify(types) !== JSON.stringify(want.events)) wrong.push(`${p.kind} ${p.orderId}: ${types.join(",")}`);
      if (view.cancelReason !== want.cancelReason) wrong.push(`${p.kind} ${p.orderId}: cancelReason ${view.cancelReason}`);
      if (!evs.every((e, k) => k === 0 || e.seq > evs[k - 1]!.seq)) wrong.push(`${p.orderId}: events out of stream order`);
    }
    expect(wrong).toEqual([]);
    const totalEvents = [...eventsOf.values()].reduce((s, l) => s + l.length, 0);
    expect((await jsm.streams.info(ORDERS_STREAM)).state.messages).toBe(totalEvents);

    // Notifications: per user exactly one per event, no eventId twice, in event order per order.
    const users = [...new Set(placed.map((p) => p.userId))];
    const notificationUrl = sys.of("notification").at(-1)!.baseUrl; // the first one was killed
    let notificationCount = 0;
    for (const user of users) {
      const mine = placed.filter((p) => p.userId === user);
      const expected = mine.flatMap((p) => eventsOf.get(p.orderId!)!);
      const { status, body: list } = await getJson(`${notificationUrl}/users/${user}/notifications`);
      expect(status).toBe(200);
      const ids = (list as { eventId: string }[]).map((n) => n.eventId);
      expect(new Set(ids).size, user).toBe(ids.length);
      expect(new Set(ids), user).toEqual(new Set(expected.map((e) => e.data.eventId)));
      for (const p of mine) {
        const notes = (list as { orderId: string; eventId: string }[]).filter((n) => n.orderId === p.orderId);
        expect(
          notes.map((n) => n.eventId),
          p.orderId,
        ).toEqual(eventsOf.get(p.orderId!)!.map((e) => e.data.eventId));
      }
      notificationCount += list.length;
    }
    expect(notificationCount).toBe(totalEvents);
    expect((await jsm.streams.info(NOTIFICATIONS_STREAM)).state.messages).toBe(totalEvents);

    // The webhook: every event at least once; a repeat (an instance killed between POST and ack)
    // carries the same Idempotency-Key, and first arrivals per order follow event order.
    const firstArrival = new Map<string, string[]>();
    const seenKeys = new Set<string>();
    for (const call of hooks) {
      expect(call.key).toBe(call.body.eventId);
      if (seenKeys.has(call.key!)) continue;
      seenKeys.add(call.key!);
      firstArrival.set(call.body.orderId, [...(firstArrival.get(call.body.orderId) ?? []), call.body.eventId]);
    }
    expect(seenKeys.size).toBe(totalEvents);
    for (const p of placed) {
      expect(firstArrival.get(p.orderId!), p.orderId).toEqual(eventsOf.get(p.orderId!)!.map((e) => e.data.eventId));
    }
    console.log(`chaos: ${hooks.length} webhook calls for ${totalEvents} events (${hooks.length - totalEvents} repeats by key)`);

    expect(await listDeadLetters(jsm)).toEqual([]);

    // The consumers of the instances that lived through the NATS restart resumed: each handled more since.
    const survivors = [...throughRestart].filter(([s]) => s !== killed.shipping && s !== killed.notification && s.name !== "order");
    expect(survivors.map(([s]) => s.name).sort()).toEqual(["notification", "payment", "payment", "shipping"]);
    for (const [s, before] of survivors) {
      expect(await handledCount(s), `${s.name} pid ${s.pid} handled nothing after the NATS restart`).toBeGreaterThan(before);
    }
  });
});
