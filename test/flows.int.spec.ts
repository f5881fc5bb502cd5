/**
 * The order flows end to end: a real nats-server and the four services as real processes.
 * One system for the whole file (PAYMENT_LIMIT=1000, notifications also POSTed to a local webhook).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { eventTypes, getJson, postOrder, startSystem, waitForStatus, type System } from "./support/system.ts";
import { waitUntil } from "./support/processes.ts";

interface EventRow {
  seq: number;
  subject: string;
  time: string;
  eventType: string;
  data: Record<string, any>;
  traceparent: string | null;
}

interface WebhookCall {
  idempotencyKey: string | undefined;
  contentType: string | undefined;
  body: any;
}

const FINAL = ["SHIPPING_READY", "CANCELLED"];
const MISSING_ID = "00000000-0000-4000-8000-000000000000";
const MALFORMED_ID = "x";

let sys: System;
let nc: NatsConnection;
let jsm: JetStreamManager;
let webhook: Server;
const webhookCalls: WebhookCall[] = [];

function startWebhook(): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body: unknown = null;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        body = Buffer.concat(chunks).toString("utf8");
      }
      webhookCalls.push({
        idempotencyKey: req.headers["idempotency-key"] as string | undefined,
        contentType: req.headers["content-type"],
        body,
      });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

async function events(orderId: string, query = ""): Promise<EventRow[]> {
  const { status, body } = await getJson(`${sys.orderUrl}/orders/${orderId}/events${query}`);
  expect(status).toBe(200);
  return body as EventRow[];
}

async function ordersCount(): Promise<number> {
  return (await jsm.streams.info("ORDERS")).state.messages;
}

/** Waits until the ORDERS stream stops growing (nothing in flight from earlier tests). */
async function quietOrdersCount(): Promise<number> {
  let last = -1;
  return waitUntil(
    async () => {
      const now = await ordersCount();
      const stable = now === last;
      last = now;
      return stable ? now : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 300, what: "the ORDERS stream to stop growing" },
  );
}

async function expectProblem(res: Response, status: number): Promise<any> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(text);
  expect(body).toMatchObject({
    type: expect.any(String),
    title: expect.any(String),
    status,
    detail: expect.any(String),
  });
  return body;
}

function cancel(orderId: string): Promise<Response> {
  return fetch(`${sys.orderUrl}/orders/${orderId}/cancel`, { method: "POST" });
}

async function createOrder(body: unknown): Promise<string> {
  const res = await postOrder(sys.orderUrl, body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  expect(res.body.orderId).toMatch(/^[0-9a-f-]{36}$/);
  return res.body.orderId as string;
}

function expectStreamOrder(list: EventRow[]): void {
  for (let i = 1; i < list.length; i++) expect(list[i]!.seq).toBeGreaterThan(list[i - 1]!.seq);
}

/** Every consumer of one service has handled everything there is (nothing pending or unacked). */
async function serviceIdle(service: string): Promise<void> {
  await waitUntil(
    async () => {
      const all = await jsm.consumers.list("ORDERS").next();
      const mine = all.filter((c) => c.name.startsWith(`${service}-lane`));
      return mine.length === 4 && mine.every((c) => c.num_pending === 0 && c.num_ack_pending === 0);
    },
    { timeoutMs: 15_000, intervalMs: 100, what: `${service} consumers to be idle` },
  );
}

beforeAll(async () => {
  webhook = await startWebhook();
  const port = (webhook.address() as AddressInfo).port;
  sys = await startSystem({
    env: { PAYMENT_LIMIT: "1000", NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${port}/hook` },
  });
  nc = await connect({ servers: sys.nats.url });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await sys?.stop();
  await new Promise<void>((resolve) => (webhook ? webhook.close(() => resolve()) : resolve()));
});

describe("order outcomes", () => {
  let happyId: string;
  let declinedId: string;

  it("a happy order reaches SHIPPING_READY with exactly its three events", async () => {
    happyId = await createOrder({
      userId: "flow-happy",
      amount: 25.5,
      currency: "EUR",
      items: [{ sku: "A-1", quantity: 2, unitPrice: 12.75 }],
    });
    const view = await waitForStatus(sys.orderUrl, happyId, ["SHIPPING_READY", "CANCELLED"]);
    expect(view.status).toBe("SHIPPING_READY");
    expect(view).toMatchObject({ orderId: happyId, userId: "flow-happy", amount: 25.5, currency: "EUR" });
    expect(view.paymentId).toEqual(expect.any(String));
    expect(view.shippingId).toEqual(expect.any(String));
    expect(view.cancelReason).toBeUndefined();

    const list = await events(happyId);
    expect(list.map((e) => e.eventType)).toEqual(["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"]);
    expectStreamOrder(list);
    expect(list[1]!.data.paymentId).toBe(view.paymentId);
    expect(list[2]!.data.shippingId).toBe(view.shippingId);
    for (const e of list) {
      expect(e.subject).toMatch(new RegExp(`^orders\\.\\d+\\.${happyId}\\.${e.eventType}$`));
      expect(e.data.orderId).toBe(happyId);
      expect(e.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
    }
  });

  it("a declined payment (amount > PAYMENT_LIMIT) ends CANCELLED with PAYMENT_FAILED", async () => {
    declinedId = await createOrder({ userId: "flow-declined", amount: 1000.01 });
    const view = await waitForStatus(sys.orderUrl, declinedId, FINAL);
    expect(view.status).toBe("CANCELLED");
    expect(view.cancelReason).toBe("PAYMENT_FAILED");
    expect(view.shippingId).toBeUndefined();
    const list = await events(declinedId);
    expect(list.map((e) => e.eventType)).toEqual(["ORDER_CREATED", "PAYMENT_FAILED", "ORDER_CANCELLED"]);
    expectStreamOrder(list);
  });

  it("an out-of-stock item ends CANCELLED with SHIPPING_FAILED after a refund", async () => {
    const id = await createOrder({
      userId: "flow-oos",
      amount: 30,
      items: [
        { sku: "A-1", quantity: 1, unitPrice: 10 },
        { sku: "OUT-OF-STOCK", quantity: 2, unitPrice: 10 },
      ],
    });
    const view = await waitForStatus(sys.orderUrl, id, FINAL);
    expect(view.status).toBe("CANCELLED");
    expect(view.cancelReason).toBe("SHIPPING_FAILED");
    const list = await events(id);
    expect(list.map((e) => e.eventType)).toEqual([
      "ORDER_CREATED",
      "PAYMENT_COMPLETED",
      "SHIPPING_FAILED",
      "PAYMENT_REFUNDED",
      "ORDER_CANCELLED",
    ]);
    expectStreamOrder(list);
    expect(list[2]!.data.unavailableSkus).toEqual(["OUT-OF-STOCK"]);
    expect(list[3]!.data).toMatchObject({ reason: "SHIPPING_FAILED", paymentId: list[1]!.data.paymentId, amount: 30 });
  });

  it("cancelling a SHIPPING_READY or CANCELLED order is 409", async () => {
    expect(happyId && declinedId).toBeTruthy();
    const body = await expectProblem(await cancel(happyId), 409);
    expect(body.detail).toMatch(/SHIPPING_READY/);
    await expectProblem(await cancel(declinedId), 409);
    // …and nothing was written.
    expect((await events(happyId)).map((e) => e.eventType)).not.toContain("ORDER_CANCEL_REQUESTED");
    expect((await events(declinedId)).map((e) => e.eventType)).not.toContain("ORDER_CANCEL_REQUESTED");
  });

  it("GET /orders/{id}/events?fromSeq=N returns only events with seq >= N", async () => {
    const all = await events(happyId);
    expect(all).toHaveLength(3);
    const second = all[1]!.seq;
    const tail = await events(happyId, `?fromSeq=${second}`);
    expect(tail.map((e) => e.seq)).toEqual(all.slice(1).map((e) => e.seq));
    expect(tail.every((e) => e.seq >= second)).toBe(true);
    const afterSecond = await events(happyId, `?fromSeq=${second + 1}`);
    expect(afterSecond.every((e) => e.seq >= second + 1)).toBe(true);
    expect(afterSecond.map((e) => e.eventType)).toEqual(["SHIPPING_READY"]);
    const beyond = await getJson(`${sys.orderUrl}/orders/${happyId}/events?fromSeq=${all[2]!.seq + 1}`);
    expect(beyond.status).toBe(200);
    expect(beyond.body).toEqual([]);
    const bad = await fetch(`${sys.orderUrl}/orders/${happyId}/events?fromSeq=-1`);
    await expectProblem(bad, 400);
  });
});

describe("ids the API does not know", () => {
  for (const [label, id] of [
    ["unknown", MISSING_ID],
    ["malformed", MALFORMED_ID],
  ] as const) {
    it(`a ${label} order id is 404 problem+json on every route`, async () => {
      for (const path of [`/orders/${id}`, `/orders/${id}/events`, `/orders/${id}/events?fromSeq=1`, `/orders/${id}/trace`]) {
        const res = await fetch(`${sys.orderUrl}${path}`);
        const body = await expectProblem(res, 404);
        expect(body.status, path).toBe(404);
      }
      await expectProblem(await cancel(id), 404);
    });
  }
});

describe("read your writes", () => {
  it("GET /orders/{id} right after each of 20 POSTs is 200, never 404", async () => {
    const misses: string[] = [];
    for (let i = 0; i < 20; i++) {
      const created = await postOrder(sys.orderUrl, { userId: `ryw-${i % 4}`, amount: 5 + i });
      expect(created.status).toBe(201);
      const id = created.body.orderId as string;
      expect(created.headers.get("location")).toBe(`/orders/${id}`);
      const [view, evs] = await Promise.all([getJson(`${sys.orderUrl}/orders/${id}`), getJson(`${sys.orderUrl}/orders/${id}/events`)]);
      if (view.status !== 200) misses.push(`${id}: view ${view.status}`);
      else expect(view.body.orderId).toBe(id);
      if (evs.status !== 200) misses.push(`${id}: events ${evs.status}`);
      else expect(evs.body[0].eventType).toBe("ORDER_CREATED");
    }
    expect(misses).toEqual([]);
  });
});

describe("notifications", () => {
  it("one per event, in event order, unique eventIds; each POSTed once to the webhook with Idempotency-Key = eventId", async () => {
    const user = "notify-user";
    const happy = await createOrder({ userId: user, amount: 40 });
    const declined = await createOrder({ userId: user, amount: 5000 });
    await waitForStatus(sys.orderUrl, happy, FINAL);
    await waitForStatus(sys.orderUrl, declined, FINAL);
    const expected = [...(await events(happy)), ...(await events(declined))];
    expect(expected).toHaveLength(6);

    const list = await waitUntil(
      async () => {
        const { status, body } = await getJson(`${sys.notificationUrl}/users/${user}/notifications`);
        return status === 200 && body.length >= expected.length ? (body as any[]) : undefined;
      },
      { timeoutMs: 15_000, what: "six notifications" },
    );
    expect(list).toHaveLength(expected.length);
    const ids = list.map((n) => n.eventId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(expected.map((e) => e.data.eventId)));
    for (const orderId of [happy, declined]) {
      const mine = list.filter((n) => n.orderId === orderId);
      const evs = expected.filter((e) => e.data.orderId === orderId);
      expect(mine.map((n) => n.eventType)).toEqual(evs.map((e) => e.eventType));
      expect(mine.map((n) => n.eventId)).toEqual(evs.map((e) => e.data.eventId));
      for (const n of mine) {
        expect(n.message).toEqual(expect.any(String));
        expect(Number.isNaN(Date.parse(n.sentAt))).toBe(false);
      }
    }

    // The webhook: every notification once, keyed by its event id.
    const hooks = await waitUntil(
      async () => {
        const mine = webhookCalls.filter((c) => c.body?.orderId === happy || c.body?.orderId === declined);
        return mine.length >= expected.length ? mine : undefined;
      },
      { timeoutMs: 15_000, what: "six webhook calls" },
    );
    await new Promise((r) => setTimeout(r, 300)); // a late duplicate would show up here
    const finalHooks = webhookCalls.filter((c) => c.body?.orderId === happy || c.body?.orderId === declined);
    expect(finalHooks).toHaveLength(hooks.length);
    expect(finalHooks).toHaveLength(expected.length);
    for (const call of finalHooks) {
      expect(call.contentType).toMatch(/^application\/json/);
      expect(call.idempotencyKey).toBe(call.body.eventId);
      expect(call.body.userId ?? user).toBe(user);
    }
    expect(new Set(finalHooks.map((c) => c.idempotencyKey))).toEqual(new Set(ids));

    const empty = await getJson(`${sys.notificationUrl}/users/nobody-here/notifications`);
    expect(empty.status).toBe(200);
    expect(empty.body).toEqual([]);
  });
});

describe("bad input", () => {
  const valid = { userId: "bad-input", amount: 10 };
  const post = (body: BodyInit, contentType?: string, extra: RequestInit = {}) =>
    fetch(`${sys.orderUrl}/orders`, {
      method: "POST",
      headers: contentType ? { "content-type": contentType } : {},
      body,
      ...extra,
    });

  it("is 415/400/413/422 problem+json and writes no event", async () => {
    const before = await quietOrdersCount();

    await expectProblem(await post(JSON.stringify(valid), "text/plain"), 415);
    await expectProblem(await post(JSON.stringify(valid), "application/x-www-form-urlencoded"), 415);
    await expectProblem(await post(JSON.stringify(valid)), 415);
    await expectProblem(await post('{"userId": "a", "amount": ', "application/json"), 400);
    await expectProblem(await post("not json at all", "application/json"), 400);
    await expectProblem(await post("", "application/json"), 400);

    const big = JSON.stringify({ ...valid, padding: "x".repeat(70 * 1024) });
    await expectProblem(await post(big, "application/json"), 413);
    // Without a Content-Length (chunked): still refused once 64 KiB have been read.
    const bytes = new TextEncoder().encode(big);
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 8192) controller.enqueue(bytes.slice(i, i + 8192));
        controller.close();
      },
    });
    await expectProblem(await post(chunked, "application/json", { duplex: "half" } as RequestInit), 413);

    const schema = await expectProblem(await post(JSON.stringify({ userId: "no spaces allowed", amount: -3 }), "application/json"), 422);
    expect(schema.errors).toEqual(expect.any(Array));
    const paths = schema.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(["userId", "amount"]));
    for (const e of schema.errors) expect(e).toEqual({ path: expect.any(String), message: expect.any(String) });

    const mismatch = await expectProblem(
      await post(JSON.stringify({ userId: "u", amount: 10, items: [{ sku: "A", quantity: 1, unitPrice: 9 }] }), "application/json"),
      422,
    );
    expect(mismatch.errors.map((e: { path: string }) => e.path)).toContain("amount");
    for (const body of [
      [],
      "string",
      42,
      null,
      { userId: "u" },
      { userId: "u", amount: 1.234 },
      { userId: "u", amount: 1, currency: "usd" },
      { userId: "u", amount: 1, items: [{ sku: "", quantity: 0, unitPrice: 1 }] },
    ]) {
      const res = await post(JSON.stringify(body), "application/json");
      const problem = await expectProblem(res, 422);
      expect(problem.errors.length, JSON.stringify(body)).toBeGreaterThan(0);
    }

    // The service is still up and nothing reached the stream.
    const health = await fetch(`${sys.orderUrl}/healthz`);
    expect(health.status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    expect(await ordersCount()).toBe(before);
  });
});

describe("customer cancel", () => {
  it("cancel before the charge: 202, refund after the charge, CANCELLED with CUSTOMER_REQUEST, never ships", async () => {
    // With payment away the cancel is certain to be in the stream before PAYMENT_COMPLETED.
    const [payment] = sys.of("payment");
    expect(await payment!.stop("SIGTERM")).toBe(0);

    const id = await createOrder({ userId: "cancel-early", amount: 12 });
    const res = await cancel(id);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ orderId: id, cancelRequested: true });
    expect(await eventTypes(sys.orderUrl, id)).toEqual(["ORDER_CREATED", "ORDER_CANCEL_REQUESTED"]);

    await sys.add("payment");
    const view = await waitForStatus(sys.orderUrl, id, ["CANCELLED", "SHIPPING_READY"]);
    expect(view.status).toBe("CANCELLED");
    expect(view.cancelReason).toBe("CUSTOMER_REQUEST");
    await serviceIdle("shipping");
    await serviceIdle("payment");
    await serviceIdle("order");
    const list = await events(id);
    expect(list.map((e) => e.eventType)).toEqual([
      "ORDER_CREATED",
      "ORDER_CANCEL_REQUESTED",
      "PAYMENT_COMPLETED",
      "PAYMENT_REFUNDED",
      "ORDER_CANCELLED",
    ]);
    expect(list[3]!.data).toMatchObject({ reason: "CUSTOMER_REQUEST", paymentId: list[2]!.data.paymentId, amount: 12 });
    expect(list[4]!.data.cancelReason).toBe("CUSTOMER_REQUEST");
    await expectProblem(await cancel(id), 409);
  });

  it("cancel after the charge while shipping is away: 202, then shipping wins — SHIPPING_READY, no refund, no ORDER_CANCELLED", async () => {
    const [shipping] = sys.of("shipping").slice(-1);
    expect(await shipping!.stop("SIGTERM")).toBe(0);

    const id = await createOrder({ userId: "cancel-late", amount: 15 });
    const paid = await waitForStatus(sys.orderUrl, id, ["PAID"]);
    expect(paid.paymentId).toEqual(expect.any(String));
    const res = await cancel(id);
    expect(res.status).toBe(202);

    // Meanwhile: no refund, no cancellation (the cancel came after PAYMENT_COMPLETED in the stream).
    await serviceIdle("payment");
    await serviceIdle("order");
    expect(await eventTypes(sys.orderUrl, id)).toEqual(["ORDER_CREATED", "PAYMENT_COMPLETED", "ORDER_CANCEL_REQUESTED"]);

    await sys.add("shipping");
    const view = await waitForStatus(sys.orderUrl, id, FINAL);
    expect(view.status).toBe("SHIPPING_READY");
    await serviceIdle("payment");
    await serviceIdle("order");
    expect(await eventTypes(sys.orderUrl, id)).toEqual(["ORDER_CREATED", "PAYMENT_COMPLETED", "ORDER_CANCEL_REQUESTED", "SHIPPING_READY"]);
    await expectProblem(await cancel(id), 409);
  });
});
