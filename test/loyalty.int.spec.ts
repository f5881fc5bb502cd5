/**
 * A fifth service joins a running system without touching it (docs/add-a-subscriber.md): the four
 * services run as processes and take orders — happy, declined and refunded ones — and only then is
 * the loyalty service started. Its consumers, created at that moment, start at ORDERS sequence 1,
 * so its points equal the history; new orders count once each; a restart (SIGTERM, start again) and
 * a replay of its consumers from sequence 1 count nothing twice; and its spans join the order's trace.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { consumerNames, ORDERS_STREAM } from "../nats/subjects.ts";
import { replayConsumer } from "../nats/replay.ts";
import { startOtlpReceiver, type OtlpReceiver } from "./support/otlp-receiver.ts";
import { waitUntil, type ServiceProcess } from "./support/processes.ts";
import { getJson, postOrder, startSystem, waitForStatus, type System } from "./support/system.ts";
import { processSpanName, publishSpanName } from "./support/trace-shape.ts";

const PRODUCER = 4;
const CONSUMER = 5;

let receiver: OtlpReceiver;
let sys: System;
let nc: NatsConnection;
let jsm: JetStreamManager;
let loyalty: ServiceProcess;

interface Points {
  userId: string;
  points: number;
  orders: number;
}

/** Places an order and waits until it has reached its end. */
async function order(userId: string, amount: number, items?: { sku: string; quantity: number; unitPrice: number }[]) {
  const placed = await postOrder(sys.orderUrl, { userId, amount, ...(items ? { items } : {}) });
  expect(placed.status, JSON.stringify(placed.body)).toBe(201);
  const view = await waitForStatus(sys.orderUrl, placed.body.orderId, ["SHIPPING_READY", "CANCELLED"], 30_000);
  return { orderId: placed.body.orderId as string, traceId: placed.body.traceId as string, status: view.status as string };
}

const points = async (userId: string): Promise<Points> => {
  const { status, body } = await getJson(`${loyalty.baseUrl}/users/${userId}/points`);
  if (status !== 200) throw new Error(`GET /users/${userId}/points answered ${status}: ${JSON.stringify(body)}`);
  return body as Points;
};

/** Waits until every user's points are `expected`; the error names what each user has. */
async function expectPoints(expected: Record<string, Omit<Points, "userId">>, what: string): Promise<void> {
  let last: Record<string, unknown> = {};
  try {
    await waitUntil(
      async () => {
        const now = Object.fromEntries(await Promise.all(Object.keys(expected).map(async (u) => [u, await points(u)] as const)));
        last = now;
        return Object.entries(expected).every(([u, e]) => now[u]!.points === e.points && now[u]!.orders === e.orders);
      },
      { timeoutMs: 30_000, intervalMs: 200, what },
    );
  } catch (err) {
    throw new Error(
      `${(err as Error).message}; expected ${JSON.stringify(expected)}, have ${JSON.stringify(last)}\n${loyalty.output().slice(-3000)}`,
    );
  }
}

/** Waits until the loyalty consumers have nothing left to deliver and nothing unacknowledged. */
async function loyaltyCaughtUp(): Promise<void> {
  await waitUntil(
    async () => {
      const infos = await Promise.all(consumerNames("loyalty").map((name) => jsm.consumers.info(ORDERS_STREAM, name)));
      return infos.every((i) => i.num_pending === 0 && i.num_ack_pending === 0);
    },
    { timeoutMs: 30_000, intervalMs: 200, what: "the loyalty consumers to have delivered and acknowledged everything" },
  );
}

// The history before loyalty exists: one point per whole unit of each payment, refunds taken back.
const HISTORY = {
  alice: { points: 150, orders: 2 }, // 120.50 + 30.00
  bob: { points: 99, orders: 1 }, // 99.99, and 50.00 paid then refunded (out of stock)
  carol: { points: 0, orders: 0 }, // declined: above PAYMENT_LIMIT, never paid
};

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  sys = await startSystem({
    env: {
      PAYMENT_LIMIT: "1000",
      OTEL_TRACES_EXPORTER: "otlp",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: "200",
    },
  });
  nc = await connect({ servers: sys.nats.url });
  jsm = await jetstreamManager(nc);
  const placed = await Promise.all([
    order("alice", 120.5),
    order("alice", 30),
    order("bob", 99.99),
    order("bob", 50, [{ sku: "OUT-OF-STOCK", quantity: 1, unitPrice: 50 }]),
    order("carol", 5000),
  ]);
  expect(placed.map((p) => p.status)).toEqual(["SHIPPING_READY", "SHIPPING_READY", "SHIPPING_READY", "CANCELLED", "CANCELLED"]);
  // The refunded order's PAYMENT_REFUNDED is on the stream (its ORDER_CANCELLED follows it).
  const { body } = await getJson(`${sys.orderUrl}/orders/${placed[3]!.orderId}/events`);
  expect((body as { eventType: string }[]).map((e) => e.eventType)).toContain("PAYMENT_REFUNDED");
  // Loyalty has never run: none of its consumers exists yet.
  await expect(jsm.consumers.info(ORDERS_STREAM, consumerNames("loyalty")[0]!)).rejects.toThrow(/consumer not found/i);
  loyalty = await sys.add("loyalty");
}, 180_000);

afterAll(async () => {
  await nc?.close();
  await sys?.stop();
  await receiver?.close();
});

describe("the loyalty service, started after the history", () => {
  it("counts the payments made before it existed: its consumers started at sequence 1", async () => {
    await expectPoints(HISTORY, "the backfilled points");
    const first = await jsm.consumers.info(ORDERS_STREAM, consumerNames("loyalty")[0]!);
    expect(first.config.deliver_policy).toBe("all");
    expect(await points("nobody")).toEqual({ userId: "nobody", points: 0, orders: 0 });
  });

  it("answers a malformed user id with a 404 problem", async () => {
    const res = await fetch(`${loyalty.baseUrl}/users/not%20a%20user/points`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(await res.json()).toMatchObject({ status: 404, type: expect.stringContaining("user-not-found") });
  });

  it("counts each new order once, and its CONSUMER span is in the order's trace under payment's publish", async () => {
    const fresh = await order("alice", 10);
    await order("dave", 7.5);
    await expectPoints({ ...HISTORY, alice: { points: 160, orders: 3 }, dave: { points: 7, orders: 1 } }, "the new orders counted");
    await loyaltyCaughtUp();
    expect(await points("alice")).toEqual({ userId: "alice", points: 160, orders: 3 });

    // Each process exports on its own schedule: wait for loyalty's span and the span it names as parent.
    const spans = await receiver.waitFor((all) => {
      const processed = all.find((s) => s.traceId === fresh.traceId && s.serviceName === "loyalty-service" && s.kind === CONSUMER);
      return processed !== undefined && all.some((s) => s.traceId === fresh.traceId && s.spanId === processed.parentSpanId);
    }, 15_000);
    const ofTrace = spans.filter((s) => s.traceId === fresh.traceId);
    const processed = ofTrace.find((s) => s.serviceName === "loyalty-service" && s.kind === CONSUMER)!;
    expect(processed.name).toBe(processSpanName("PAYMENT_COMPLETED"));
    const parent = ofTrace.find((s) => s.spanId === processed.parentSpanId);
    expect(parent, "the loyalty span's parent is in the trace").toBeDefined();
    expect(parent!.serviceName).toBe("payment-service");
    expect(parent!.kind).toBe(PRODUCER);
    expect(parent!.name).toBe(publishSpanName("PAYMENT_COMPLETED"));
  });

  it("counts nothing twice across a restart (SIGTERM, start again) and a replay from sequence 1", async () => {
    expect(await loyalty.stop("SIGTERM")).toBe(0);
    // An order while loyalty is away: counted when it is back.
    await order("bob", 20);
    loyalty = await sys.add("loyalty");
    const expected = { ...HISTORY, alice: { points: 160, orders: 3 }, bob: { points: 119, orders: 2 }, dave: { points: 7, orders: 1 } };
    await expectPoints(expected, "the points after the restart");

    // Every payment event handed to it again: the accounts already hold each one.
    for (const name of consumerNames("loyalty")) await replayConsumer(jsm, name, { fromSeq: 1 });
    await loyaltyCaughtUp();
    for (const [userId, e] of Object.entries(expected)) expect(await points(userId)).toEqual({ userId, ...e });
  });
});
