/**
 * Least privilege on NATS: a nats-server started with the project's auth config
 * (nats/auth/nats-server.auth.conf, passwords from its environment), the four services each with
 * its own user. Every flow works and the server logs no permission violation; what a service must
 * not do (forge another service's event, delete or purge the stream, read another service's state,
 * listen to the event stream or to another service's inbox) the server refuses.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { eventTypes, getJson, postOrder, startSystem, waitForStatus, type System } from "./support/system.ts";
import { waitUntil } from "./support/processes.ts";
import { runCli } from "./support/cli.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./support/webhook-receiver.ts";
import { startNatsServer, type NatsServerHandle } from "./support/nats-server.ts";
import { startOtlpReceiver, type OtlpReceiver } from "./support/otlp-receiver.ts";
import { processSpanName } from "./support/trace-shape.ts";
import { connectNats, inboxPrefixOf } from "../nats/connect.ts";
import { natsUserOf, ADMIN } from "../nats/auth/auth-config.ts";
import { listDeadLetters } from "../nats/dead-letter-queue.ts";
import { consumerName, eventSubject, ORDERS_STREAM, SERVICES, type ServiceName } from "../nats/subjects.ts";
import { completeEvent } from "../nats/publish-event.ts";

const AUTH_CONF = new URL("../nats/auth/nats-server.auth.conf", import.meta.url).pathname;
type User = ServiceName | "admin";
/** Fresh per run; letters first, so nats-server's config parser reads them as strings. */
const PASSWORDS = Object.fromEntries(
  [...SERVICES, "admin"].map((u) => [u, `pw-${u}-${crypto.randomUUID().replaceAll("-", "")}`]),
) as Record<User, string>;

let nats: NatsServerHandle;
let sys: System;
let admin: NatsConnection;
let adminJsm: JetStreamManager;
let webhook: WebhookReceiver;
let receiver: OtlpReceiver;
let hookFails = true;
const open: NatsConnection[] = [];

function connectAs(user: User, password = PASSWORDS[user]): Promise<NatsConnection> {
  return connectNats({
    servers: [nats.url],
    name: `test-as-${user}`,
    user,
    password,
    inboxPrefix: user === "admin" ? undefined : inboxPrefixOf(user),
    failFast: true,
  }).then((nc) => {
    open.push(nc);
    return nc;
  });
}

const violations = () =>
  nats
    .logs()
    .split("\n")
    .filter((l) => /Violation/i.test(l));

beforeAll(async () => {
  // The server resolves `$<SERVICE>_NATS_PASSWORD` from its own environment (inherited at spawn).
  const saved: Record<string, string | undefined> = {};
  for (const user of [...SERVICES, "admin"] as User[]) {
    const variable = user === "admin" ? ADMIN.passwordVar : natsUserOf(user).passwordVar;
    saved[variable] = process.env[variable];
    process.env[variable] = PASSWORDS[user];
  }
  try {
    nats = await startNatsServer({ configFile: AUTH_CONF });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  webhook = await startWebhookReceiver(({ body }) => (hookFails && body?.userId === "hook-down" ? 500 : 204));
  receiver = await startOtlpReceiver();
  sys = await startSystem({
    nats,
    instances: { order: 0, payment: 0, shipping: 0, notification: 0 },
    env: {
      HANDLER_RETRY_BASE_MS: "20",
      PAYMENT_LIMIT: "1000",
      NOTIFY_WEBHOOK_URL: webhook.url,
      // Sampling by outcome: kept traces are announced on core NATS (nats/trace-keeping.ts), which
      // every service's user must be allowed to publish and subscribe to.
      OTEL_TRACES_EXPORTER: "otlp",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: "200",
      OTEL_TRACES_SAMPLER: "orderstream_outcome",
      OTEL_TRACES_SAMPLER_ARG: "0",
    },
  });
  // Sequentially: the first (order) creates the streams, the others find and bind them.
  for (const service of SERVICES) await sys.add(service, { NATS_USER: service, NATS_PASSWORD: PASSWORDS[service] });
  admin = await connectAs("admin");
  adminJsm = await jetstreamManager(admin);
});

afterAll(async () => {
  await Promise.all(open.map((nc) => nc.close().catch(() => {})));
  await sys?.stop();
  await nats?.stop();
  await webhook?.close();
  await receiver?.close();
});

describe("each service with its own user", () => {
  it("runs every flow: happy, declined, out of stock, cancelled, idempotent repeat", async () => {
    const happy = await postOrder(sys.orderUrl, { userId: "auth-happy", amount: 10 }, { "idempotency-key": "auth-1" });
    expect(happy.status).toBe(201);
    const repeat = await postOrder(sys.orderUrl, { userId: "auth-happy", amount: 10 }, { "idempotency-key": "auth-1" });
    expect(repeat.status).toBe(200);
    expect(repeat.body.orderId).toBe(happy.body.orderId);
    const declined = await postOrder(sys.orderUrl, { userId: "auth-declined", amount: 5000 });
    const stock = await postOrder(sys.orderUrl, {
      userId: "auth-stock",
      amount: 2,
      items: [{ sku: "OUT-OF-STOCK", quantity: 1, unitPrice: 2 }],
    });
    const cancelled = await postOrder(sys.orderUrl, { userId: "auth-cancel", amount: 3 });
    const cancel = await fetch(`${sys.orderUrl}/orders/${cancelled.body.orderId}/cancel`, { method: "POST" });
    expect([202, 409]).toContain(cancel.status);

    await waitForStatus(sys.orderUrl, happy.body.orderId, ["SHIPPING_READY"]);
    expect(await eventTypes(sys.orderUrl, happy.body.orderId)).toEqual(["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"]);
    await waitForStatus(sys.orderUrl, declined.body.orderId, ["CANCELLED"]);
    expect(await eventTypes(sys.orderUrl, declined.body.orderId)).toEqual(["ORDER_CREATED", "PAYMENT_FAILED", "ORDER_CANCELLED"]);
    await waitForStatus(sys.orderUrl, stock.body.orderId, ["CANCELLED"]);
    expect(await eventTypes(sys.orderUrl, stock.body.orderId)).toEqual([
      "ORDER_CREATED",
      "PAYMENT_COMPLETED",
      "SHIPPING_FAILED",
      "PAYMENT_REFUNDED",
      "ORDER_CANCELLED",
    ]);
    const end = await waitForStatus(sys.orderUrl, cancelled.body.orderId, ["CANCELLED", "SHIPPING_READY"]);
    if (end.status === "CANCELLED") expect(end.cancelReason).toBe("CUSTOMER_REQUEST");

    // The notification service reads its stream with its own user too.
    const list = await waitUntil(
      async () => {
        const { status, body } = await getJson(`${sys.notificationUrl}/users/auth-happy/notifications`);
        return status === 200 && body.length === 3 ? body : undefined;
      },
      { timeoutMs: 20_000, what: "three notifications for auth-happy" },
    );
    expect(list.map((n: { eventType: string }) => n.eventType)).toEqual(["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"]);
    // The loyalty service, with its own user: its bucket and ORDERS reads are enough.
    const loyaltyUrl = sys.of("loyalty")[0]!.baseUrl;
    await waitUntil(
      async () => {
        const [happyPoints, stockPoints] = await Promise.all([
          getJson(`${loyaltyUrl}/users/auth-happy/points`),
          getJson(`${loyaltyUrl}/users/auth-stock/points`),
        ]);
        return happyPoints.body?.points === 10 && stockPoints.body?.points === 0 && stockPoints.body?.orders === 0;
      },
      { timeoutMs: 20_000, what: "auth-happy's 10 loyalty points, and none for the refunded auth-stock" },
    );
    // Shipping sees nothing go wrong in the declined order's trace: its span arrives only because
    // payment's announcement reached it through the server, within both users' permissions.
    const declinedTrace = declined.body.traceId as string;
    await receiver.waitFor(
      (spans) =>
        spans.some(
          (s) => s.traceId === declinedTrace && s.serviceName === "shipping-service" && s.name === processSpanName("ORDER_CREATED"),
        ),
      15_000,
    );
    expect(violations()).toEqual([]);
    for (const s of sys.services) expect(s.output(), s.name).not.toMatch(/Permissions Violation/);
    // Credentials never reach a log line.
    for (const s of sys.services) for (const pw of Object.values(PASSWORDS)) expect(s.output(), s.name).not.toContain(pw);
    for (const pw of Object.values(PASSWORDS)) expect(nats.logs()).not.toContain(pw);
  });

  it("dead-letters a failing handler and retries it from the CLI (admin), all within the permissions", async () => {
    const order = await postOrder(sys.orderUrl, { userId: "hook-down", amount: 4 });
    await waitForStatus(sys.orderUrl, order.body.orderId, ["SHIPPING_READY"]);
    // ORDER_CREATED, PAYMENT_COMPLETED, SHIPPING_READY: each notification fails 8 times, then is dead-lettered.
    const letters = await waitUntil(
      async () => {
        const l = (await listDeadLetters(adminJsm)).filter((d) => d.subject.includes(order.body.orderId));
        return l.length === 3 ? l : undefined;
      },
      { timeoutMs: 90_000, what: "three dead letters of the notification service for hook-down" },
    );
    expect(letters.every((l) => /^notification-lane\d+$/.test(l.consumer))).toBe(true);
    const env = { NATS_URL: nats.url, NATS_USER: "admin", NATS_PASSWORD: PASSWORDS.admin };
    const listed = await runCli(["dlq", "list"], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(String(letters[0]!.streamSeq));
    hookFails = false;
    for (const letter of letters) {
      const retried = await runCli(["dlq", "retry", String(letter.streamSeq)], env);
      expect(retried.code, retried.stderr).toBe(0);
    }
    // The notification service re-reads ORDERS and removes the dead letter with its own user.
    await waitUntil(async () => (await listDeadLetters(adminJsm)).every((d) => !d.subject.includes(order.body.orderId)), {
      timeoutMs: 30_000,
      what: "the retried dead letters to be removed",
    });
    const events = await runCli(["events", order.body.orderId], env);
    expect(events.code, events.stderr).toBe(0);
    expect(violations()).toEqual([]);
  });

  it("refuses the CLI without the admin credentials", async () => {
    const anonymous = await runCli(["dlq", "list"], { NATS_URL: nats.url, NATS_USER: "", NATS_PASSWORD: "" });
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(/Authorization Violation/i);
  });
});

describe("what the server refuses", () => {
  const orderId = "0a0b0c0d-0000-4000-8000-00000000abcd";

  async function storedOn(subject: string): Promise<boolean> {
    const info = await adminJsm.streams.info(ORDERS_STREAM, { subjects_filter: subject });
    return Object.keys(info.state.subjects ?? {}).length > 0;
  }

  it("shipping cannot publish PAYMENT_COMPLETED (nor any event not its own)", async () => {
    const nc = await connectAs("shipping");
    const js = jetstream(nc);
    const forged = await completeEvent({
      eventType: "PAYMENT_COMPLETED",
      orderId,
      userId: "victim",
      paymentId: "forged",
      amount: 1,
      currency: "USD",
    } as never);
    const subject = eventSubject(orderId, "PAYMENT_COMPLETED");
    await expect(js.publish(subject, JSON.stringify(forged), { msgID: forged.eventId })).rejects.toThrow(
      /Permissions Violation for Publish/,
    );
    // A core publish (no ack asked) is dropped by the server just the same.
    nc.publish(subject, JSON.stringify(forged));
    await nc.flush();
    for (const type of ["ORDER_CREATED", "PAYMENT_REFUNDED", "ORDER_CANCELLED"] as const) {
      await expect(js.publish(eventSubject(orderId, type), "{}")).rejects.toThrow(/Permissions Violation/);
    }
    // Its own event types pass the permission check and reach JetStream (which then refuses this
    // one on purpose, by a wrong expected sequence, so the services never see a made-up event).
    await expect(
      js.publish(eventSubject(orderId, "SHIPPING_FAILED"), "{}", { expect: { lastSubjectSequence: 999_999 } }),
    ).rejects.toMatchObject({
      code: 10071,
    });
    expect(await storedOn(subject)).toBe(false);
    expect(
      violations().some((l) => /user:shipping"|User "shipping"/.test(l) && l.includes(subject)),
      violations().join("\n"),
    ).toBe(true);
  });

  it("notification and payment cannot forge order events either", async () => {
    const notification = jetstream(await connectAs("notification"));
    await expect(notification.publish(eventSubject(orderId, "ORDER_CANCELLED"), "{}")).rejects.toThrow(/Permissions Violation/);
    const payment = jetstream(await connectAs("payment"));
    await expect(payment.publish(eventSubject(orderId, "SHIPPING_READY"), "{}")).rejects.toThrow(/Permissions Violation/);
    await expect(payment.publish("notifications.victim.x.ORDER_CREATED", "{}")).rejects.toThrow(/Permissions Violation/);
    expect(await storedOn(eventSubject(orderId, "ORDER_CANCELLED"))).toBe(false);
  });

  it("payment cannot delete, purge, re-create or reconfigure the ORDERS stream, nor touch others' consumers", async () => {
    const before = (await adminJsm.streams.info(ORDERS_STREAM)).state.messages;
    const jsm = await jetstreamManager(await connectAs("payment"));
    await expect(jsm.streams.delete(ORDERS_STREAM)).rejects.toThrow(
      /Permissions Violation for Publish to "\$JS\.API\.STREAM\.DELETE\.ORDERS"/,
    );
    await expect(jsm.streams.purge(ORDERS_STREAM)).rejects.toThrow(/Permissions Violation/);
    await expect(jsm.streams.update(ORDERS_STREAM, { max_msgs: 1 })).rejects.toThrow(/Permissions Violation/);
    await expect(jsm.streams.deleteMessage(ORDERS_STREAM, 1)).rejects.toThrow(/Permissions Violation/);
    await expect(jsm.streams.add({ name: "SHADOW", subjects: ["shadow.>"] })).rejects.toThrow(/Permissions Violation/);
    await expect(jsm.consumers.delete(ORDERS_STREAM, consumerName("shipping", 0))).rejects.toThrow(/Permissions Violation/);
    await expect(jsm.consumers.delete(ORDERS_STREAM, consumerName("payment", 0))).rejects.toThrow(/Permissions Violation/);
    await expect(jsm.consumers.info(ORDERS_STREAM, consumerName("shipping", 0))).rejects.toThrow(/Permissions Violation/);
    await expect(
      jsm.consumers.add(ORDERS_STREAM, { durable_name: "payment-spy", filter_subject: "orders.*.*.*" } as never),
    ).rejects.toThrow(/Permissions Violation/);
    const after = await adminJsm.streams.info(ORDERS_STREAM);
    expect(after.state.messages).toBeGreaterThanOrEqual(before);
    expect(after.config.max_msgs).toBe(-1);
    // What it needs still works: its own consumer's info.
    expect((await jsm.consumers.info(ORDERS_STREAM, consumerName("payment", 3))).name).toBe("payment-lane3");
  });

  it("a service cannot read another's state, listen to the stream, or to another's replies", async () => {
    const payment = await connectAs("payment");
    await expect(new Kvm(payment).open("order-views").then((kv) => kv.get("x"))).rejects.toThrow(/Permissions Violation/);
    await expect(jetstream(payment).publish("$KV.shipping-state.x", "{}")).rejects.toThrow(/Permissions Violation/);
    const errors: string[] = [];
    for (const subject of ["orders.>", "_INBOX_shipping.>", "_INBOX.>", ">"]) {
      const sub = payment.subscribe(subject);
      void (async () => {
        try {
          for await (const _ of sub) {
            /* nothing may arrive */
          }
        } catch (err) {
          errors.push((err as Error).message);
        }
      })();
    }
    await payment.flush();
    await waitUntil(async () => errors.length === 4, { timeoutMs: 5_000, what: "four refused subscriptions" });
    expect(errors.every((e) => /Permissions Violation for Subscription/.test(e))).toBe(true);
    // Acking (or nak-ing) another service's deliveries is a publish it does not have either.
    payment.publish(`$JS.ACK.${ORDERS_STREAM}.${consumerName("shipping", 0)}.1.1.1.1.0`);
    await payment.flush();
    await waitUntil(async () => violations().some((l) => l.includes(`$JS.ACK.${ORDERS_STREAM}.${consumerName("shipping", 0)}`)), {
      timeoutMs: 5_000,
      what: "the refused ack in the server log",
    });
  });

  it("loyalty can neither publish an order event, record a notification, nor write another's bucket", async () => {
    const loyalty = await connectAs("loyalty");
    const js = jetstream(loyalty);
    const orderId = crypto.randomUUID();
    await expect(js.publish(eventSubject(orderId, "PAYMENT_COMPLETED"), "{}")).rejects.toThrow(/Permissions Violation/);
    await expect(js.publish("notifications.victim.x.ORDER_CREATED", "{}")).rejects.toThrow(/Permissions Violation/);
    await expect(js.publish("$KV.idempotency-keys.x", "{}")).rejects.toThrow(/Permissions Violation/);
    // Its own bucket it may write.
    await expect(js.publish("$KV.loyalty-points.auth-probe", "{}")).resolves.toMatchObject({ stream: "KV_loyalty-points" });
  });

  it("refuses a wrong password and a missing user", async () => {
    await expect(connectAs("payment", "not-the-password")).rejects.toThrow(/Authorization Violation/i);
    await expect(connectNats({ servers: [nats.url], name: "anonymous", failFast: true })).rejects.toThrow(/Authorization Violation/i);
  });
});
