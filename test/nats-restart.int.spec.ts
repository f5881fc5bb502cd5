/**
 * nats-server SIGKILLed mid-load and restarted on the same store: every order the API accepted
 * completes, none twice; while the server is away POST /orders answers 503 problem+json with
 * Retry-After — never another 5xx — and clients retrying with their Idempotency-Key get their order.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { getJson, placeUntilAccepted, startSystem, waitForStatus, type PlacementState, type System } from "./support/system.ts";
import { listDeadLetters } from "../nats/dead-letter-queue.ts";
import { NOTIFICATIONS_STREAM, ORDERS_STREAM } from "../nats/subjects.ts";

const ORDERS = 200;
const POST_INTERVAL_MS = 40; // ≈ 8 s of posting
const HAPPY = ["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let sys: System;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  sys = await startSystem({ instances: { order: 1, payment: 2, shipping: 1, notification: 1 } });
});

afterAll(async () => {
  await nc?.close();
  await sys?.stop();
});

describe("nats-server SIGKILLed and restarted on its store mid-load", () => {
  it("completes every accepted order once; POSTs meanwhile get 503 problem+json and nothing else", async () => {
    const placed: (PlacementState & { i: number })[] = Array.from({ length: ORDERS }, (_, i) => ({
      i,
      key: `restart-${i}-${Date.now()}`,
      attempts: 0,
      failures: [],
    }));
    const t0 = Date.now();
    const outage = (async () => {
      await sleep(2_500);
      await sys.nats.kill();
      const down = Date.now();
      await sleep(2_000);
      await sys.nats.restart();
      return { down: down - t0, up: Date.now() - t0 };
    })();
    const inFlight = new Set<Promise<void>>();
    const all: Promise<void>[] = [];
    for (const p of placed) {
      await sleep(Math.max(0, t0 + p.i * POST_INTERVAL_MS - Date.now()));
      while (inFlight.size >= 16) await Promise.race(inFlight);
      // Only 503 problem+json (with Retry-After) and timeouts are retried: any other status fails the test.
      const job: Promise<void> = placeUntilAccepted(
        sys.orderUrl,
        p,
        { userId: `restart-u${p.i % 8}`, amount: 10 + (p.i % 40) },
        {
          deadlineMs: 45_000,
          requestTimeoutMs: 12_000,
          intervalMs: 250,
          retryStatuses: [503],
        },
      ).finally(() => inFlight.delete(job));
      inFlight.add(job);
      all.push(job);
    }
    await Promise.all(all);
    const { down, up } = await outage;
    const refused = placed.flatMap((p) => p.failures).filter((f) => f.startsWith("503"));
    console.log(
      `restart: server down at +${down} ms, up at +${up} ms; ${refused.length} POSTs answered 503, ${placed.filter((p) => p.failures.length).length} orders retried`,
    );
    expect(refused.length).toBeGreaterThan(0);

    // One order per key, each completed with exactly its three events.
    expect(new Set(placed.map((p) => p.orderId)).size).toBe(ORDERS);
    for (const p of placed) await waitForStatus(sys.orderUrl, p.orderId!, ["SHIPPING_READY"], 60_000);
    let events = 0;
    for (const p of placed) {
      const { body } = await getJson(`${sys.orderUrl}/orders/${p.orderId}/events`);
      expect(
        body.map((e: { eventType: string }) => e.eventType),
        p.orderId,
      ).toEqual(HAPPY);
      events += body.length;
    }
    nc = await connect({ servers: sys.nats.url });
    jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(ORDERS_STREAM)).state.messages).toBe(events);
    expect((await jsm.streams.info(NOTIFICATIONS_STREAM)).state.messages).toBe(events);
    expect(await listDeadLetters(jsm)).toEqual([]);
  });
});
