/**
 * Replay and repair against the running system: `replay --consumer <service> --from-seq 1` for every
 * service (and one durable `--from-time`) re-delivers the whole history and changes nothing already
 * reached; `GET /orders/{id}/events?fromSeq=N` reads from a sequence; `rebuild-view` folds every
 * order again from sequence 1 and finds them as the API shows them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { getJson, postOrder, startSystem, waitForStatus, type System } from "./support/system.ts";
import { laneConsumers, waitForIdleLanes } from "./support/lanes.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./support/webhook-receiver.ts";
import { runCli } from "./support/cli.ts";
import { freePort } from "../scripts/nats-binary.ts";
import { listDeadLetters } from "../nats/dead-letter-queue.ts";
import {
  CONSUMED_EVENT_TYPES,
  consumerName,
  LANES,
  laneOfOrder,
  lanePartitions,
  NOTIFICATIONS_STREAM,
  ORDERS_STREAM,
  DEFAULT_SERVICES,
  type ServiceName,
} from "../nats/subjects.ts";

const FINAL = ["SHIPPING_READY", "CANCELLED"];
const ORDER_COUNT = 24;

let sys: System;
let nc: NatsConnection;
let jsm: JetStreamManager;
let webhook: WebhookReceiver;
const orders: { orderId: string; userId: string }[] = [];

interface Snapshot {
  orders: { messages: number; lastSeq: number };
  notifications: { messages: number; lastSeq: number };
  events: Record<string, unknown>;
  views: Record<string, unknown>;
  notificationLists: Record<string, unknown>;
  webhookCalls: number;
}

/** Messages a service's consumers are delivered (the event types it acts on), of one partition or all. */
/** Messages a service's consumers hold: all its lanes', or one lane's. */
async function messagesFor(service: ServiceName, lane?: number): Promise<number> {
  let n = 0;
  for (const partition of lane === undefined ? ["*"] : lanePartitions(lane)) {
    for (const type of CONSUMED_EVENT_TYPES[service]) {
      const subjects = (await jsm.streams.info(ORDERS_STREAM, { subjects_filter: `orders.${partition}.*.${type}` })).state.subjects ?? {};
      n += Object.values(subjects).reduce((sum, k) => sum + k, 0);
    }
  }
  return n;
}

async function snapshot(): Promise<Snapshot> {
  const o = (await jsm.streams.info(ORDERS_STREAM)).state;
  const n = (await jsm.streams.info(NOTIFICATIONS_STREAM)).state;
  const events: Record<string, unknown> = {};
  const views: Record<string, unknown> = {};
  for (const { orderId } of orders) {
    events[orderId] = (await getJson(`${sys.orderUrl}/orders/${orderId}/events`)).body;
    views[orderId] = (await getJson(`${sys.orderUrl}/orders/${orderId}`)).body;
  }
  const notificationLists: Record<string, unknown> = {};
  for (const userId of new Set(orders.map((x) => x.userId))) {
    notificationLists[userId] = (await getJson(`${sys.notificationUrl}/users/${userId}/notifications`)).body;
  }
  return {
    orders: { messages: o.messages, lastSeq: o.last_seq },
    notifications: { messages: n.messages, lastSeq: n.last_seq },
    events,
    views,
    notificationLists,
    webhookCalls: webhook.requests().length,
  };
}

beforeAll(async () => {
  webhook = await startWebhookReceiver();
  sys = await startSystem({
    env: {
      PAYMENT_LIMIT: "1000",
      NOTIFY_WEBHOOK_URL: webhook.url,
    },
  });
  nc = await connect({ servers: sys.nats.url });
  jsm = await jetstreamManager(nc);

  // A finished batch: happy, declined, out-of-stock, and one cancelled before payment could matter.
  for (let i = 0; i < ORDER_COUNT; i++) {
    const userId = `replay-u${i % 4}`;
    const body =
      i % 3 === 0
        ? { userId, amount: 10 + i }
        : i % 3 === 1
          ? { userId, amount: 5000 }
          : { userId, amount: 20, items: [{ sku: "OUT-OF-STOCK", quantity: 1, unitPrice: 20 }] };
    const res = await postOrder(sys.orderUrl, body);
    expect(res.status).toBe(201);
    orders.push({ orderId: res.body.orderId, userId });
  }
  for (const { orderId } of orders) await waitForStatus(sys.orderUrl, orderId, FINAL, 30_000);
  await waitForIdleLanes(jsm);
  // Notifications and webhook calls are settled once the notification consumers are idle.
  expect(webhook.requests().length).toBeGreaterThan(0);
});

afterAll(async () => {
  await nc?.close();
  await sys?.stop();
  await webhook?.close();
});

describe("replay --consumer <service> --from-seq 1", () => {
  it("re-delivers the whole stream to each service while it runs, and changes nothing", async () => {
    const before = await snapshot();
    expect(before.orders.messages).toBeGreaterThanOrEqual(ORDER_COUNT * 3);

    // The services this system runs (the default four): an opt-in one has no consumers here.
    for (const service of DEFAULT_SERVICES) {
      const started = Date.now();
      const result = await runCli(["replay", "--consumer", service, "--from-seq", "1"], { NATS_URL: sys.nats.url }, 90_000);
      expect(result.stderr, `${service}: ${result.stdout}`).toBe("");
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`replaying ${LANES} consumer(s) from sequence 1`);
      // Not a terminal: plain progress lines (events done / total, events/s, ETA), the last one at 100%.
      expect(result.stdout).toMatch(/^replay: [\d,]+ \/ [\d,]+ events \(\d+%\), .* events\/s, (ETA|took) /m);
      expect(result.stdout).toMatch(/^replay: ([\d,]+) \/ \1 events \(100%\), .*took \d+:\d\d\nreplay done$/m);
      expect(result.stdout).not.toMatch(/\r/);
      console.log(`replay of ${service}: ${Date.now() - started} ms`);

      // The consumers really went back: recreated at sequence 1 and walked through every message again.
      const consumers = await laneConsumers(jsm, [service]);
      expect(consumers).toHaveLength(LANES);
      let delivered = 0;
      for (const c of consumers) {
        expect(c.config.deliver_policy, c.name).toBe("by_start_sequence");
        expect(c.config.opt_start_seq, c.name).toBe(1);
        // Recreated with the same shape: cumulative acks, pinned to one owner.
        expect(c.config.ack_policy, c.name).toBe("all");
        expect(c.config.priority_policy, c.name).toBe("pinned_client");
        expect(c.num_pending + c.num_ack_pending, c.name).toBe(0);
        delivered += c.delivered.consumer_seq;
      }
      expect(delivered, service).toBeGreaterThanOrEqual(await messagesFor(service));
      expect(await messagesFor(service)).toBeGreaterThan(0);
    }

    await waitForIdleLanes(jsm);
    const after = await snapshot();
    expect(after).toEqual(before);
    expect(await listDeadLetters(jsm)).toEqual([]);

    // Still working normally after the replays.
    const fresh = await postOrder(sys.orderUrl, { userId: "replay-after", amount: 7 });
    expect(fresh.status).toBe(201);
    expect((await waitForStatus(sys.orderUrl, fresh.body.orderId, FINAL)).status).toBe("SHIPPING_READY");
  });

  it("replays a single durable from a time, and only that one moves", async () => {
    await waitForIdleLanes(jsm);
    const target = orders[0]!.orderId;
    const durable = consumerName("payment", laneOfOrder(target));
    const others = (await laneConsumers(jsm)).filter((c) => c.name !== durable);
    const before = await snapshot();

    const from = new Date(Date.now() - 10 * 60_000).toISOString(); // before the first order
    const result = await runCli(["replay", "--consumer", durable, "--from-time", from], { NATS_URL: sys.nats.url }, 90_000);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("replaying 1 consumer(s) from");
    expect(result.stdout).toContain("replay done");

    const info = await jsm.consumers.info(ORDERS_STREAM, durable);
    expect(info.config.deliver_policy).toBe("by_start_time");
    expect(new Date(info.config.opt_start_time!).getTime()).toBe(new Date(from).getTime());
    const partitionMessages = await messagesFor("payment", laneOfOrder(target));
    expect(partitionMessages).toBeGreaterThan(0);
    expect(info.delivered.consumer_seq).toBeGreaterThanOrEqual(partitionMessages);
    for (const c of others) {
      const now = await jsm.consumers.info(ORDERS_STREAM, c.name);
      expect(now.created, c.name).toBe(c.created);
    }
    await waitForIdleLanes(jsm);
    expect(await snapshot()).toEqual(before);
  });

  it("refuses a missing start as a usage error (exit 2) and an unknown consumer with exit 1 and a reason", async () => {
    const noStart = await runCli(["replay", "--consumer", "payment"], { NATS_URL: sys.nats.url });
    expect(noStart.code).toBe(2);
    expect(noStart.stderr).toMatch(/--from-seq/);
    const unknown = await runCli(["replay", "--consumer", "nobody-p99", "--from-seq", "1"], { NATS_URL: sys.nats.url });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/nobody-p99/);
  });
});

describe("trace <orderId>", () => {
  it("gives the trace id and Jaeger link, and exits 1 with a reason when Jaeger does not answer", async () => {
    const { orderId } = orders[0]!;
    const closedPort = await freePort();
    const result = await runCli(["trace", orderId], { NATS_URL: sys.nats.url, JAEGER_QUERY_URL: `http://127.0.0.1:${closedPort}` });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^Trace [0-9a-f]{32}/);
    expect(result.stdout).toContain(`http://127.0.0.1:${closedPort}/trace/`);
    expect(result.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^orderstream: no spans for trace [0-9a-f]{32} from Jaeger at /),
    ]);
  });
});

describe("GET /orders/{id}/events?fromSeq=N", () => {
  it("returns the order's events from that stream sequence on", async () => {
    const { orderId } = orders[2]!; // out of stock: five events
    const { body: all } = await getJson(`${sys.orderUrl}/orders/${orderId}/events`);
    expect(all.map((e: { eventType: string }) => e.eventType)).toEqual([
      "ORDER_CREATED",
      "PAYMENT_COMPLETED",
      "SHIPPING_FAILED",
      "PAYMENT_REFUNDED",
      "ORDER_CANCELLED",
    ]);
    for (let k = 0; k < all.length; k++) {
      const { status, body } = await getJson(`${sys.orderUrl}/orders/${orderId}/events?fromSeq=${all[k].seq}`);
      expect(status).toBe(200);
      expect(body).toEqual(all.slice(k));
    }
    const past = await getJson(`${sys.orderUrl}/orders/${orderId}/events?fromSeq=${all.at(-1).seq + 1}`);
    expect(past.status).toBe(200);
    expect(past.body).toEqual([]);
  });
});

describe("rebuild-view", () => {
  it("folds every order again from sequence 1, and counts them by status as the API shows them", async () => {
    await waitForIdleLanes(jsm);
    // Every order in the stream, by its ORDER_CREATED subject, and its status as GET /orders/{id} has it.
    const created = (await jsm.streams.info(ORDERS_STREAM, { subjects_filter: "orders.*.*.ORDER_CREATED" })).state.subjects ?? {};
    const ids = Object.keys(created).map((subject) => subject.split(".")[2]!);
    expect(ids.length).toBeGreaterThanOrEqual(ORDER_COUNT);
    const byStatus: Record<string, number> = {};
    for (const id of ids) {
      const { body } = await getJson(`${sys.orderUrl}/orders/${id}`);
      byStatus[body.status] = (byStatus[body.status] ?? 0) + 1;
    }
    const events = (await jsm.streams.info(ORDERS_STREAM)).state.messages;

    const result = await runCli(["rebuild-view"], { NATS_URL: sys.nats.url }, 90_000);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const summary = /rebuilt (\d+) order views from (\d+) events in [\d.]+ s: (.*)$/m.exec(result.stdout);
    expect(summary, result.stdout).not.toBeNull();
    expect(Number(summary![1])).toBe(ids.length);
    expect(Number(summary![2])).toBe(events);
    for (const status of ["CREATED", "PAID", "SHIPPING_READY", "CANCELLED"]) {
      expect(summary![3], status).toContain(`${byStatus[status] ?? 0} ${status}`);
    }
    expect(result.stdout).not.toMatch(/not valid order events|no ORDER_CREATED/);
    expect(result.stdout).toMatch(
      new RegExp(`^rebuild-view: ${events.toLocaleString("en-US")} / ${events.toLocaleString("en-US")} events \\(100%\\)`, "m"),
    );
  });
});
