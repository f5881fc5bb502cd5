/**
 * Process lifecycle against the real system: SIGTERM drains and loses nothing, readiness follows the
 * NATS connection while liveness stays up, and a second instance binds without touching consumers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type ConsumerInfo, type JetStreamManager } from "@nats-io/jetstream";
import { getJson, postOrder, startSystem, waitForStatus, type System } from "./support/system.ts";
import { waitUntil, type ServiceProcess } from "./support/processes.ts";
import { waitForIdleLanes } from "./support/lanes.ts";
import { DEFAULT_SERVICES, LANES } from "../nats/subjects.ts";

const FINAL = ["SHIPPING_READY", "CANCELLED"];
const HAPPY = ["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"];

let sys: System;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  sys = await startSystem();
  nc = await connect({ servers: sys.nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await sys?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function status(url: string): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  await res.arrayBuffer();
  return res.status;
}

async function allConsumers(): Promise<Map<string, ConsumerInfo>> {
  const list = await jsm.consumers.list("ORDERS").next();
  return new Map(list.map((c) => [c.name, c]));
}

async function expectHappy(orderIds: string[], timeoutMs = 30_000): Promise<void> {
  for (const id of orderIds) {
    const view = await waitForStatus(sys.orderUrl, id, FINAL, timeoutMs);
    expect(view.status, id).toBe("SHIPPING_READY");
    const { body } = await getJson(`${sys.orderUrl}/orders/${id}/events`);
    expect(
      body.map((e: { eventType: string }) => e.eventType),
      id,
    ).toEqual(HAPPY);
  }
}

describe("SIGTERM while orders flow", () => {
  it("the service exits 0 and, once it is back, every order reaches its final state", async () => {
    const payment = sys.of("payment")[0]!;
    const orderIds: string[] = [];
    let exitCode: number | null | undefined;
    // 30 orders over ~1.5 s; payment gets SIGTERM after the 10th.
    for (let i = 0; i < 30; i++) {
      const res = await postOrder(sys.orderUrl, { userId: `life-${i % 3}`, amount: 5 + i });
      expect(res.status).toBe(201);
      orderIds.push(res.body.orderId);
      if (i === 9) {
        const t0 = Date.now();
        exitCode = await payment.stop("SIGTERM", 15_000);
        expect(Date.now() - t0).toBeLessThan(15_000);
      }
      await sleep(50);
    }
    expect(exitCode, payment.output().split("\n").slice(-20).join("\n")).toBe(0);
    expect(payment.output()).toMatch(/drain/);

    // Without payment the later orders wait; none is lost, none is charged twice.
    await sys.add("payment");
    await expectHappy(orderIds);
    await waitForIdleLanes(jsm);
    await expectHappy(orderIds);
  });
});

describe("a second instance", () => {
  it("starts against the same stream without failing and without resetting any consumer", async () => {
    await waitForIdleLanes(jsm);
    const before = await allConsumers();
    expect(before.size).toBe(DEFAULT_SERVICES.length * LANES);
    const streamBefore = (await jsm.streams.info("ORDERS")).state;

    const extra: ServiceProcess[] = await Promise.all([sys.add("payment"), sys.add("order"), sys.add("notification")]);
    for (const s of extra) expect(await status(`${s.baseUrl}/readyz`), s.name).toBe(200);

    const after = await allConsumers();
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [name, b] of before) {
      const a = after.get(name)!;
      expect(a.created, name).toBe(b.created);
      // Nothing was delivered again: the consumer's delivery count and ack floor are where they were.
      // (delivered.stream_seq is the server's scan position in the filtered stream: a new pull request
      // lets it skip ahead over other partitions' messages, so it may grow — but never go back.)
      expect(a.delivered.consumer_seq, name).toBe(b.delivered.consumer_seq);
      expect(a.delivered.stream_seq, name).toBeGreaterThanOrEqual(b.delivered.stream_seq);
      expect(a.ack_floor, name).toEqual(b.ack_floor);
      expect(a.num_redelivered, name).toBe(b.num_redelivered);
      expect(a.num_pending, name).toBe(0);
      expect(a.num_ack_pending, name).toBe(0);
      expect(a.config.filter_subject, name).toBe(b.config.filter_subject);
    }
    expect((await jsm.streams.info("ORDERS")).state.messages).toBe(streamBefore.messages);

    // Both instances work the same consumers: orders (also created through the new order instance)
    // are handled once each.
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const url = i % 2 === 0 ? sys.orderUrl : extra[1]!.baseUrl;
      const res = await postOrder(url, { userId: "life-two", amount: 20 + i });
      expect(res.status).toBe(201);
      ids.push(res.body.orderId);
    }
    await expectHappy(ids);
    await waitForIdleLanes(jsm);
    const notes = await waitUntil(
      async () => {
        const { body } = await getJson(`${extra[2]!.baseUrl}/users/life-two/notifications`);
        return body.length >= 18 ? body : undefined;
      },
      { timeoutMs: 15_000, what: "18 notifications" },
    );
    expect(notes).toHaveLength(18);
    expect(new Set(notes.map((n: { eventId: string }) => n.eventId)).size).toBe(18);
    // The first notification instance answers the same list.
    expect((await getJson(`${sys.notificationUrl}/users/life-two/notifications`)).body).toEqual(notes);
  });
});

describe("readiness and liveness across a NATS outage", () => {
  it("/readyz is 503 while nats-server is down and 200 after; /healthz stays 200; orders flow again", async () => {
    // Only the processes still running (an earlier test stopped one payment instance).
    const running: ServiceProcess[] = [];
    for (const s of sys.services) {
      try {
        if ((await status(`${s.baseUrl}/healthz`)) === 200) running.push(s);
      } catch {
        /* stopped earlier */
      }
    }
    expect(running.length).toBeGreaterThanOrEqual(4);
    for (const s of running) expect(await status(`${s.baseUrl}/readyz`), s.name).toBe(200);

    await sys.nats.kill();
    try {
      for (const s of running) {
        await waitUntil(async () => (await status(`${s.baseUrl}/readyz`)) === 503, {
          timeoutMs: 10_000,
          what: `${s.name}:${s.port} /readyz to be 503 with NATS down`,
        });
      }
      for (let round = 0; round < 3; round++) {
        for (const s of running) expect(await status(`${s.baseUrl}/healthz`), s.name).toBe(200);
        for (const s of running) expect(await status(`${s.baseUrl}/readyz`), s.name).toBe(503);
        await sleep(200);
      }
    } finally {
      await sys.nats.restart();
    }

    for (const s of running) {
      await waitUntil(async () => (await status(`${s.baseUrl}/readyz`)) === 200, {
        timeoutMs: 20_000,
        what: `${s.name}:${s.port} /readyz to be 200 after NATS is back`,
      });
      expect(await status(`${s.baseUrl}/healthz`)).toBe(200);
    }

    // Ready means working: a new order goes all the way through.
    const res = await postOrder(sys.orderUrl, { userId: "life-after", amount: 9 });
    expect(res.status).toBe(201);
    await expectHappy([res.body.orderId]);
  });
});
