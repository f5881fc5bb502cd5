// The running services answer what their OpenAPI documents say: a table of requests — every route,
// every status it can answer, each problem+json — against the four services (in this process, a
// real nats-server), every answer checked against the service's own GET /openapi.json (status,
// Content-Type, declared headers, body schema), and every status the documents describe produced
// at least once. 503s come from instances not yet connected to NATS (the same app before start()).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Hono } from "hono";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startNatsServer, type NatsServerHandle } from "./support/nats-server.ts";
import { startInProcess, type InProcessService } from "./support/in-process.ts";
import { createAjv, mismatches, operationsOf, operationFor, type Answer } from "./support/openapi-conformance.ts";
import { loadConfig } from "../shared/config.ts";
import { createLogger } from "../shared/logger.ts";
import { createService } from "../host/service-host.ts";
import { serviceDefinitions } from "../services/registry.ts";
import type { ServiceName } from "../shared/services.ts";

type Json = Record<string, any>;

const TOKEN = "s3cret-token";
const UNKNOWN = "3e9c6d5e-3d0c-4d7a-9f7e-5a0b0c0d0e0f";
const JSON_TYPE = { "content-type": "application/json" };

interface Target {
  service: ServiceName;
  app: Hono;
  doc?: Json;
}

let nats: NatsServerHandle;
/** A server whose only account has a small JetStream file limit: the store runs full (507). */
let fullNats: NatsServerHandle;
let fullDir: string;
const running: InProcessService[] = [];
const targets: Record<string, Target> = {};
const ajv = createAjv();
/** `<service> <method> <template> <status>` of every answer checked. */
const exercised = new Set<string>();
const problems: string[] = [];

/** The same service's app before start(): what clients get while NATS is not there yet. */
function coldApp(name: ServiceName): Hono {
  const config = loadConfig(name, { NATS_URL: nats.url, JAEGER_QUERY_URL: "http://127.0.0.1:9" });
  return createService({ definition: serviceDefinitions[name], config, log: createLogger(`${name}-service`, "silent") }).app;
}

async function start(label: string, name: ServiceName, env: Record<string, string> = {}, server = nats): Promise<void> {
  const s = await startInProcess(name, server.url, env);
  running.push(s);
  targets[label] = { service: name, app: s.app };
}

async function docOf(target: Target): Promise<Json> {
  target.doc ??= (await (await target.app.request("/openapi.json")).json()) as Json;
  return target.doc;
}

/** Sends one request, checks the answer against the target's document, and returns it. */
async function call(label: string, method: string, path: string, init: RequestInit = {}): Promise<Answer & { json: () => any }> {
  const target = targets[label]!;
  const res = await target.app.request(path, { method, ...init });
  const answer: Answer = { status: res.status, headers: res.headers, text: await res.text() };
  const doc = await docOf(target);
  problems.push(...mismatches(doc, ajv, { method, path }, answer).map((m) => `[${label}] ${m}`));
  const op = operationFor(doc, method, path);
  if (op) exercised.add(`${target.service} ${op.method} ${op.template} ${answer.status}`);
  return { ...answer, json: () => JSON.parse(answer.text) };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  nats = await startNatsServer();
  // Payment and shipping come later: first an order that stays CREATED, so its cancel is accepted.
  await start("order", "order");
  await start("guarded", "order", { ORDER_API_TOKEN: TOKEN });
  await start("notification", "notification");
  fullDir = await mkdtemp(join(tmpdir(), "orderstream-openapi-full-"));
  await writeFile(
    join(fullDir, "nats.conf"),
    "accounts { APP: { jetstream: { max_file: 200KB }, users: [{ user: app, password: app }] } }\nno_auth_user: app\n",
  );
  fullNats = await startNatsServer({ configFile: join(fullDir, "nats.conf") });
  await start("full", "order", {}, fullNats);
  targets.coldOrder = { service: "order", app: coldApp("order") };
  targets.coldNotification = { service: "notification", app: coldApp("notification") };
});

afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
  await nats?.stop();
  await fullNats?.stop();
  if (fullDir) await rm(fullDir, { recursive: true, force: true });
});

describe("every route answers as its service's OpenAPI document says", () => {
  let happy = "";
  let cancelled = "";
  const userId = `docs-${Date.now()}`;

  it("POST /orders: 201, 200 for a repeat, 422 for a reused key, 400, 413, 415, 422, 401, 503", async () => {
    const created = await call("order", "POST", "/orders", {
      headers: JSON_TYPE,
      body: JSON.stringify({ userId, amount: 10, items: [{ sku: "A-1", quantity: 2, unitPrice: 5 }] }),
    });
    expect(created.status).toBe(201);
    happy = created.json().orderId;
    expect(created.headers.get("location")).toBe(`/orders/${happy}`);
    cancelled = (await call("order", "POST", "/orders", { headers: JSON_TYPE, body: JSON.stringify({ userId, amount: 3 }) })).json()
      .orderId;

    const key = `key-${Date.now()}`;
    const keyed = (body: unknown) =>
      call("order", "POST", "/orders", { headers: { ...JSON_TYPE, "idempotency-key": key }, body: JSON.stringify(body) });
    expect((await keyed({ userId, amount: 7 })).status).toBe(201);
    expect((await keyed({ userId, amount: 7 })).status).toBe(200);
    expect((await keyed({ userId, amount: 8 })).status).toBe(422);

    const post = (body: string, headers: Record<string, string> = JSON_TYPE) => call("order", "POST", "/orders", { headers, body });
    expect((await post("{")).status).toBe(400);
    expect((await post("")).status).toBe(400);
    expect(
      (
        await call("order", "POST", "/orders", {
          headers: { ...JSON_TYPE, "idempotency-key": "k".repeat(256) },
          body: '{"userId":"u","amount":1}',
        })
      ).status,
    ).toBe(400);
    expect((await post(JSON.stringify({ userId, amount: 1, pad: "x".repeat(70_000) }))).status).toBe(413);
    expect((await post("{}", { "content-type": "text/plain" })).status).toBe(415);
    expect((await post("{}", {})).status).toBe(415);
    const invalid = await post(JSON.stringify({ userId: "a b", amount: 1.001, items: [{ sku: "", quantity: 0, unitPrice: -1 }] }));
    expect(invalid.status).toBe(422);
    expect(invalid.json().errors.length).toBeGreaterThan(3);
    expect((await post(JSON.stringify({ userId, amount: 4, items: [{ sku: "A", quantity: 1, unitPrice: 5 }] }))).status).toBe(422);

    expect((await call("guarded", "POST", "/orders", { headers: JSON_TYPE, body: '{"userId":"u","amount":1}' })).status).toBe(401);
    expect(
      (
        await call("guarded", "POST", "/orders", {
          headers: { ...JSON_TYPE, authorization: `Bearer ${TOKEN}` },
          body: '{"userId":"u","amount":1}',
        })
      ).status,
    ).toBe(201);
    expect((await call("coldOrder", "POST", "/orders", { headers: JSON_TYPE, body: '{"userId":"u","amount":1}' })).status).toBe(503);
  });

  it("POST /orders/{orderId}/cancel: 202 while it may be cancelled, 409 after, 404 unknown", async () => {
    // Nobody charges yet (no payment service): the order is CREATED.
    expect((await call("order", "POST", `/orders/${cancelled}/cancel`)).status).toBe(202);
    // Now the other services: the happy order ships, the cancelled one is refunded and cancelled.
    await start("payment", "payment");
    await start("shipping", "shipping");
    const statusOf = async (id: string) => (await call("order", "GET", `/orders/${id}`)).json().status as string;
    await until("the happy order to ship", async () => ((await statusOf(happy)) === "SHIPPING_READY" ? true : undefined));
    await until("the cancel to complete", async () => ((await statusOf(cancelled)) === "CANCELLED" ? true : undefined));
    expect((await call("order", "POST", `/orders/${happy}/cancel`)).status).toBe(409);
    expect((await call("order", "POST", `/orders/${cancelled}/cancel`)).status).toBe(409);
    expect((await call("order", "POST", `/orders/${UNKNOWN}/cancel`)).status).toBe(404);
    expect((await call("order", "POST", "/orders/nope/cancel")).status).toBe(404);
  });

  it("the reading routes: 200, 400, 404, 401, 503", async () => {
    const view = await call("order", "GET", `/orders/${happy}`);
    expect(view.json()).toMatchObject({ status: "SHIPPING_READY", paymentId: expect.any(String), shippingId: expect.any(String) });
    expect((await call("order", "GET", `/orders/${cancelled}`)).json()).toMatchObject({
      status: "CANCELLED",
      cancelReason: "CUSTOMER_REQUEST",
    });
    const events = await call("order", "GET", `/orders/${cancelled}/events`);
    expect(events.json().map((e: Json) => e.eventType)).toEqual([
      "ORDER_CREATED",
      "ORDER_CANCEL_REQUESTED",
      "PAYMENT_COMPLETED",
      "PAYMENT_REFUNDED",
      "ORDER_CANCELLED",
    ]);
    const second = events.json()[1].seq as number;
    expect((await call("order", "GET", `/orders/${cancelled}/events?fromSeq=${second}`)).json()).toHaveLength(4);
    for (const bad of ["x", "", "-1", "1.5", "1e3", "0x10", "99999999999999999"]) {
      expect((await call("order", "GET", `/orders/${cancelled}/events?fromSeq=${encodeURIComponent(bad)}`)).status, bad).toBe(400);
    }
    const trace = await call("order", "GET", `/orders/${happy}/trace`);
    expect(trace.json()).toMatchObject({ orderId: happy, spans: null, warning: expect.any(String) });
    expect((await call("order", "GET", `/orders/${happy}/view`)).status).toBe(200);

    for (const suffix of ["", "/events", "/trace", "/view"]) {
      expect((await call("order", "GET", `/orders/${UNKNOWN}${suffix}`)).status).toBe(404);
      expect((await call("order", "GET", `/orders/not-an-id${suffix}`)).status).toBe(404);
      expect((await call("guarded", "GET", `/orders/${happy}${suffix}`)).status).toBe(401);
      expect((await call("guarded", "GET", `/orders/${happy}${suffix}`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(
        200,
      );
      expect((await call("coldOrder", "GET", `/orders/${happy}${suffix}`)).status).toBe(503);
    }
    expect((await call("guarded", "POST", `/orders/${happy}/cancel`)).status).toBe(401);
    expect((await call("coldOrder", "POST", `/orders/${happy}/cancel`)).status).toBe(503);
  });

  it("GET /users/{userId}/notifications: 200, 404, 503", async () => {
    const list = await until("the notifications", async () => {
      const a = await call("notification", "GET", `/users/${userId}/notifications`);
      return a.json().length >= 3 + 5 + 1 ? a.json() : undefined;
    });
    expect(list.length).toBeGreaterThan(0);
    expect((await call("notification", "GET", "/users/a.b/notifications")).status).toBe(404);
    expect((await call("coldNotification", "GET", `/users/${userId}/notifications`)).status).toBe(503);
  });

  it("POST /orders and POST /orders/{orderId}/cancel: 507 once the store is full", async () => {
    const order = (amount: number) => call("full", "POST", "/orders", { headers: JSON_TYPE, body: JSON.stringify({ userId, amount }) });
    const first = await order(1);
    expect(first.status).toBe(201);
    let refused: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 2_000 && !refused; i++) {
      const a = await order(2 + (i % 50));
      if (a.status === 507) refused = a;
      else expect(a.status).toBe(201);
    }
    expect(refused?.headers.get("retry-after")).toBe("30");
    expect(refused?.json().detail).toMatch(/^The event store is full \(JetStream: resource limits exceeded for account\)/);
    expect((await call("full", "POST", `/orders/${first.json().orderId}/cancel`)).status).toBe(507);
  });

  it("every service's own routes: /healthz, /readyz (200, and 503 before NATS), /metrics, /openapi.json, /asyncapi.json, /docs", async () => {
    for (const label of ["order", "guarded", "notification", "payment", "shipping", "coldOrder", "coldNotification"]) {
      for (const path of ["/healthz", "/readyz", "/metrics", "/openapi.json", "/asyncapi.json", "/docs"]) {
        const a = await call(label, "GET", path);
        expect(a.status, `${label} ${path}`).toBe(path === "/readyz" && label.startsWith("cold") ? 503 : 200);
      }
    }
    expect((await call("coldOrder", "GET", "/readyz")).json()).toMatchObject({ status: "not ready", nats: "disconnected" });
  });

  it("found every answer described, and produced every answer the documents describe", async () => {
    expect(problems).toEqual([]);
    const described = new Set<string>();
    for (const target of Object.values(targets)) {
      for (const { template, method, op } of operationsOf(await docOf(target))) {
        for (const status of Object.keys(op.responses)) described.add(`${target.service} ${method} ${template} ${status}`);
      }
    }
    // Payment and shipping have no cold instance here: their 503 of /readyz is the order's.
    const notProduced = [...described].filter((k) => !exercised.has(k) && !/^(payment|shipping) get \/readyz 503$/.test(k));
    expect(notProduced).toEqual([]);
    expect([...exercised].filter((k) => !described.has(k))).toEqual([]);
  });
});

describe("the documents' servers, over real HTTP", () => {
  it("the first server, `/`, taken from where the document was fetched, reaches the service that served it", async () => {
    const { serve } = await import("@hono/node-server");
    const server = serve({ fetch: targets.order!.app.fetch, hostname: "127.0.0.1", port: 0 });
    try {
      await new Promise<void>((resolve) => (server.listening ? resolve() : server.once("listening", () => resolve())));
      const { port } = server.address() as { port: number };
      const documentUrl = `http://127.0.0.1:${port}/openapi.json`;
      const doc = (await (await fetch(documentUrl)).json()) as Json;
      // OpenAPI: the server URL is resolved against the document's URL, then the path is appended to it.
      const base = new URL(doc.servers[0].url, documentUrl).href.replace(/\/$/, "");
      expect(base).toBe(`http://127.0.0.1:${port}`);
      const health = await fetch(`${base}/healthz`);
      expect(health.status).toBe(200);
      const order = await fetch(`${base}/orders`, {
        method: "POST",
        headers: JSON_TYPE,
        body: JSON.stringify({ userId: "servers", amount: 2 }),
      });
      expect(order.status).toBe(201);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
