/**
 * Idempotency-Key on POST /orders against the real system: concurrent duplicates get one order and
 * share its answer, a reused key with another body is 422 (draft-ietf-httpapi-idempotency-key-header),
 * and the stream keeps exactly one ORDER_CREATED.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { getJson, postOrder, startSystem, waitForStatus, type System } from "./support/system.ts";

let sys: System;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  sys = await startSystem();
  nc = await connect({ servers: sys.nats.url });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await sys?.stop();
});

/** Messages the ORDERS stream holds for one order, by subject. */
async function subjectsOf(orderId: string): Promise<Record<string, number>> {
  const info = await jsm.streams.info("ORDERS", { subjects_filter: `orders.*.${orderId}.*` });
  return info.state.subjects ?? {};
}

function createdCount(subjects: Record<string, number>): number {
  return Object.entries(subjects)
    .filter(([s]) => s.endsWith(".ORDER_CREATED"))
    .reduce((sum, [, n]) => sum + n, 0);
}

describe("Idempotency-Key", () => {
  const key = `idem-${Date.now()}`;
  const body = { userId: "idem-user", amount: 42.5, currency: "USD", items: [{ sku: "A-1", quantity: 1, unitPrice: 42.5 }] };
  let orderId: string;

  it("20 concurrent POSTs with the same key and body: one 201, nineteen 200, one order, one ORDER_CREATED", async () => {
    const before = (await jsm.streams.info("ORDERS")).state.messages;
    const results = await Promise.all(Array.from({ length: 20 }, () => postOrder(sys.orderUrl, body, { "idempotency-key": key })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(19);
    const ids = new Set(results.map((r) => r.body.orderId));
    expect(ids.size).toBe(1);
    orderId = results[0]!.body.orderId;
    const traceIds = new Set(results.map((r) => r.body.traceId));
    expect(traceIds.size).toBe(1);
    for (const r of results) {
      expect(r.body).toMatchObject({ orderId, status: "CREATED", traceId: expect.stringMatching(/^[0-9a-f]{32}$/) });
      expect(r.headers.get("location")).toBe(`/orders/${orderId}`);
    }

    const view = await waitForStatus(sys.orderUrl, orderId, ["SHIPPING_READY", "CANCELLED"]);
    expect(view.status).toBe("SHIPPING_READY");
    const subjects = await subjectsOf(orderId);
    expect(createdCount(subjects)).toBe(1);
    expect(Object.values(subjects).every((n) => n === 1)).toBe(true);
    const { body: events } = await getJson(`${sys.orderUrl}/orders/${orderId}/events`);
    expect(events.map((e: { eventType: string }) => e.eventType)).toEqual(["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"]);
    // Exactly this order's three events were added to the stream, nothing for the nineteen repeats.
    expect((await jsm.streams.info("ORDERS")).state.messages).toBe(before + 3);
  });

  it("a later repeat with the same key and body is 200 with the same order", async () => {
    expect(orderId).toBeDefined();
    const again = await postOrder(sys.orderUrl, body, { "idempotency-key": key });
    expect(again.status).toBe(200);
    expect(again.body.orderId).toBe(orderId);
    expect(again.headers.get("location")).toBe(`/orders/${orderId}`);
    expect(createdCount(await subjectsOf(orderId))).toBe(1);
  });

  it("the same key with another body is a 422 problem saying so, and writes nothing", async () => {
    expect(orderId).toBeDefined();
    const before = (await jsm.streams.info("ORDERS")).state.messages;
    const res = await postOrder(
      sys.orderUrl,
      { ...body, amount: 43, items: [{ sku: "A-1", quantity: 1, unitPrice: 43 }] },
      {
        "idempotency-key": key,
      },
    );
    expect(res.status).toBe(422);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({
      status: 422,
      type: expect.stringMatching(/\/idempotency-key-reused$/),
      title: expect.any(String),
      detail: expect.stringMatching(/Idempotency-Key was already used with another request body/),
      errors: [{ path: "", message: expect.any(String) }],
    });
    expect(res.body.orderId).toBeUndefined();
    expect((await jsm.streams.info("ORDERS")).state.messages).toBe(before);
  });

  it("two bodies racing for one key (10 concurrent POSTs each): one order, the winner's body shares it, the other body is 422", async () => {
    const raceKey = `${key}-race`;
    const bodies = [body, { ...body, amount: 21.25, items: [{ sku: "A-1", quantity: 1, unitPrice: 21.25 }] }];
    const before = (await jsm.streams.info("ORDERS")).state.messages;
    const sent = Array.from({ length: 20 }, (_, i) => i % 2);
    const results = await Promise.all(sent.map((b) => postOrder(sys.orderUrl, bodies[b], { "idempotency-key": raceKey })));
    const won = results.filter((r) => r.status === 201);
    expect(won).toHaveLength(1);
    const winner = sent[results.indexOf(won[0]!)]!;
    results.forEach((r, i) => {
      if (sent[i] === winner) {
        expect([200, 201], JSON.stringify(r.body)).toContain(r.status);
        expect(r.body.orderId).toBe(won[0]!.body.orderId);
        expect(r.body.traceId).toBe(won[0]!.body.traceId);
      } else {
        expect(r.status, JSON.stringify(r.body)).toBe(422);
        expect(r.body.type).toMatch(/\/idempotency-key-reused$/);
      }
    });
    const raced = won[0]!.body.orderId as string;
    expect((await waitForStatus(sys.orderUrl, raced, ["SHIPPING_READY", "CANCELLED"])).status).toBe("SHIPPING_READY");
    expect(createdCount(await subjectsOf(raced))).toBe(1);
    expect((await jsm.streams.info("ORDERS")).state.messages).toBe(before + 3);
  });

  it("keys are kept at least 24 h, then expire (the bucket's max age)", async () => {
    const info = await jsm.streams.info("KV_idempotency-keys");
    const maxAgeHours = info.config.max_age / 1e9 / 3600;
    expect(maxAgeHours).toBeGreaterThanOrEqual(24);
    expect(maxAgeHours).toBeLessThanOrEqual(48);
  });

  it("a different key makes a different order", async () => {
    expect(orderId).toBeDefined();
    const other = await postOrder(sys.orderUrl, body, { "idempotency-key": `${key}-other` });
    expect(other.status).toBe(201);
    expect(other.body.orderId).not.toBe(orderId);
    const view = await waitForStatus(sys.orderUrl, other.body.orderId, ["SHIPPING_READY", "CANCELLED"]);
    expect(view.status).toBe("SHIPPING_READY");
    expect(createdCount(await subjectsOf(other.body.orderId))).toBe(1);
    // And no key at all: a new order each time.
    const a = await postOrder(sys.orderUrl, body);
    const b = await postOrder(sys.orderUrl, body);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.orderId).not.toBe(b.body.orderId);
  });
});
