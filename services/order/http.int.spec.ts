/**
 * The order routes (services/order/http.ts) on the order service alone, run in this process
 * against a real nats-server (test/support/in-process.ts): the shapes of what they answer, and the
 * problem+json of what they refuse — nothing refused reaches the stream. The flows through all four
 * services are test/flows.int.spec.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useNatsServer } from "../../test/support/use-nats-server.ts";
import { startInProcess, type InProcessService } from "../../test/support/in-process.ts";
import { anEvent } from "../../shared/testing/decider-spec.ts";
import { eventSubject, ORDERS_STREAM } from "../../nats/subjects.ts";

const MISSING_ID = "00000000-0000-4000-8000-000000000000";
const MALFORMED_ID = "x";

const nats = useNatsServer();
let order: InProcessService;

beforeAll(async () => {
  order = await startInProcess("order", nats.url);
});

afterAll(async () => {
  await order?.stop();
});

const request = (path: string, init?: RequestInit) => order.app.request(path, init);
const post = (body: BodyInit, contentType?: string, extra: RequestInit = {}) =>
  request("/orders", { method: "POST", headers: contentType ? { "content-type": contentType } : {}, body, ...extra });
const cancel = (id: string) => request(`/orders/${id}/cancel`, { method: "POST" });

async function expectProblem(res: Response, status: number): Promise<any> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(text);
  expect(body).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) });
  return body;
}

async function ordersCount(): Promise<number> {
  return (await nats.jsm.streams.info(ORDERS_STREAM)).state.messages;
}

async function createOrder(body: unknown = { userId: "routes", amount: 10 }): Promise<string> {
  const res = await post(JSON.stringify(body), "application/json");
  expect(res.status).toBe(201);
  return ((await res.json()) as { orderId: string }).orderId;
}

describe("order routes", () => {
  it("POST /orders is 201 with the order's id, status and trace id, and its Location", async () => {
    const res = await post(JSON.stringify({ userId: "shape", amount: 25 }), "application/json");
    expect(res.status).toBe(201);
    const body = (await res.json()) as { orderId: string; status: string; traceId: string | null };
    expect(body).toEqual({ orderId: expect.stringMatching(/^[0-9a-f-]{36}$/), status: "CREATED", traceId: body.traceId });
    expect(res.headers.get("location")).toBe(`/orders/${body.orderId}`);
  });

  it("GET /orders/{id} and /events answer the order as folded from the stream", async () => {
    const id = await createOrder({ userId: "reader", amount: 30 });
    const view = await request(`/orders/${id}`);
    expect(view.status).toBe(200);
    expect(await view.json()).toMatchObject({ orderId: id, userId: "reader", status: "CREATED" });
    const events = await request(`/orders/${id}/events`);
    expect(events.status).toBe(200);
    const rows = (await events.json()) as { seq: number; eventType: string; subject: string }[];
    expect(rows.map((r) => [r.eventType, r.subject])).toEqual([["ORDER_CREATED", eventSubject(id, "ORDER_CREATED")]]);
  });

  it("cancel of a CREATED order is 202 with cancelRequested; of a CANCELLED one 409, and writes nothing", async () => {
    const id = await createOrder({ userId: "canceller", amount: 40 });
    const accepted = await cancel(id);
    expect(accepted.status).toBe(202);
    expect(await accepted.json()).toEqual({ orderId: id, status: "CREATED", cancelRequested: true });
    // The order service's own decision, carried out here by hand: no payment service runs in this spec.
    await nats.js.publish(eventSubject(id, "ORDER_CANCELLED"), JSON.stringify(anEvent("ORDER_CANCELLED", { orderId: id })));
    const before = await ordersCount();
    const refused = await expectProblem(await cancel(id), 409);
    expect(refused.detail).toMatch(/can no longer be cancelled/);
    expect(await ordersCount()).toBe(before);
  });

  for (const [label, id] of [
    ["unknown", MISSING_ID],
    ["malformed", MALFORMED_ID],
  ] as const) {
    it(`a ${label} order id is 404 problem+json on every route`, async () => {
      for (const path of [`/orders/${id}`, `/orders/${id}/events`, `/orders/${id}/events?fromSeq=1`, `/orders/${id}/trace`]) {
        const body = await expectProblem(await request(path), 404);
        expect(body.status, path).toBe(404);
      }
      await expectProblem(await cancel(id), 404);
    });
  }

  it("bad input is 415/400/413/422 problem+json and writes no event", async () => {
    const valid = { userId: "bad-input", amount: 10 };
    const before = await ordersCount();

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
      const problem = await expectProblem(await post(JSON.stringify(body), "application/json"), 422);
      expect(problem.errors.length, JSON.stringify(body)).toBeGreaterThan(0);
    }

    expect((await request("/healthz")).status).toBe(200);
    expect(await ordersCount()).toBe(before);
  });
});
