/**
 * Poison messages: bounded redelivery, then a dead letter with reason, sequence and consumer, the
 * partition unblocked for other orders, and `dlq retry` handing the message back — also after the
 * service-wide durables were deleted under the running services.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { startSystem, postOrder, waitForStatus, getJson, type System } from "./support/system.ts";
import { waitUntil } from "./support/processes.ts";
import { runCli } from "./support/cli.ts";
import { ADVISORIES_STREAM, ADVISORY_CONSUMER, DLQ_STREAM, listDeadLetters } from "../nats/dead-letters.ts";
import { CONSUMED_EVENT_TYPES, consumerName, eventSubject, laneOf, partitionOf, ORDERS_STREAM, SERVICES } from "../nats/subjects.ts";

let system: System;
let nc: NatsConnection;
let jsm: JetStreamManager;
let webhook: Server;
let webhookUrl = "";
let poisonFails = true;
const delivered: { userId: string; eventId: string; eventType: string }[] = [];

beforeAll(async () => {
  webhook = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const n = JSON.parse(body);
      const poison = n.userId === "poison";
      if (poison && poisonFails) {
        res.writeHead(500).end("simulated outage for this customer");
        return;
      }
      delivered.push({ userId: n.userId, eventId: n.eventId, eventType: n.eventType });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => webhook.listen(0, "127.0.0.1", r));
  webhookUrl = `http://127.0.0.1:${(webhook.address() as { port: number }).port}/hook`;
  system = await startSystem({ env: { NOTIFY_WEBHOOK_URL: webhookUrl, HANDLER_RETRY_BASE_MS: "20" } });
  nc = await connect({ servers: system.nats.url });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await system?.stop();
  await new Promise((r) => webhook?.close(r));
});

describe("a handler that always fails for one order", () => {
  it("dead-letters it after max_deliver, keeps other orders flowing, and retries it on request", async () => {
    const poison = await postOrder(system.orderUrl, { userId: "poison", amount: 10 });
    expect(poison.status).toBe(201);
    const others = [];
    for (let i = 0; i < 40; i++) others.push((await postOrder(system.orderUrl, { userId: `user-${i}`, amount: 10 })).body.orderId);
    const samePartition = others.filter((id) => partitionOf(id) === partitionOf(poison.body.orderId));

    // Every other order is notified in full, including those behind the poison in its partition.
    await waitUntil(async () => delivered.filter((d) => d.userId !== "poison").length >= others.length * 3 || undefined, {
      timeoutMs: 60_000,
      what: "notifications of the healthy orders",
    });
    for (const id of samePartition) await waitForStatus(system.orderUrl, id, ["SHIPPING_READY"]);

    const letters = await waitUntil(
      async () => {
        const l = (await listDeadLetters(jsm)).filter((d) => d.subject.includes(poison.body.orderId));
        return l.length === 3 ? l : undefined;
      },
      { timeoutMs: 60_000, what: "three dead letters for the poison order's events" },
    );
    for (const letter of letters) {
      expect(letter.consumer).toBe(consumerName("notification", laneOf(partitionOf(poison.body.orderId))));
      expect(letter.deliveries).toBe(8);
      expect(letter.source).toBe("service");
      expect(letter.reason).toMatch(/webhook .* answered 500/);
      expect(JSON.parse(letter.body).orderId).toBe(poison.body.orderId);
    }
    // The order itself completed: only its notifications failed.
    await waitForStatus(system.orderUrl, poison.body.orderId, ["SHIPPING_READY"]);

    const list = await runCli(["dlq", "list"], { NATS_URL: system.nats.url });
    expect(list.code).toBe(0);
    for (const letter of letters) expect(list.stdout).toContain(String(letter.streamSeq));

    // Someone deletes the service-wide durables under the running services (an operator, a stream
    // recreated): the instances create and bind them again (nats/durable-loop.ts). The advisory
    // test below runs on the recreated advisory consumer.
    await jsm.consumers.delete(DLQ_STREAM, "notification-dlq-retry");
    await jsm.consumers.delete(ADVISORIES_STREAM, ADVISORY_CONSUMER);
    for (const [stream, durable] of [
      [DLQ_STREAM, "notification-dlq-retry"],
      [ADVISORIES_STREAM, ADVISORY_CONSUMER],
    ] as const) {
      await waitUntil(
        async () => {
          const info = await jsm.consumers.info(stream, durable).catch(() => undefined);
          return info && info.num_waiting > 0 ? info : undefined;
        },
        { timeoutMs: 20_000, what: `${durable} created and pulled from again` },
      );
    }

    poisonFails = false;
    for (const letter of letters.sort((a, b) => a.streamSeq - b.streamSeq)) {
      const retry = await runCli(["dlq", "retry", String(letter.streamSeq)], { NATS_URL: system.nats.url });
      expect(retry.stderr).toBe("");
      expect(retry.code).toBe(0);
    }
    const poisonDeliveries = delivered.filter((d) => d.userId === "poison");
    expect(poisonDeliveries.map((d) => d.eventType)).toEqual(["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"]);
    expect((await listDeadLetters(jsm)).filter((d) => d.subject.includes(poison.body.orderId))).toEqual([]);
    // Notified once per event, in event order, even across the dead letter and the retry.
    const { body: list2 } = await getJson(`${system.notificationUrl}/users/poison/notifications`);
    expect(list2.map((n: { eventType: string }) => n.eventType)).toEqual(["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"]);
  });

  it("rejects messages that are not valid order events to the DLQ with the reason, without blocking", async () => {
    const js = jetstream(nc);
    // Every service whose consumers are delivered ORDER_CREATED (the order service is not).
    const receivers = SERVICES.filter((s) => CONSUMED_EVENT_TYPES[s].includes("ORDER_CREATED"));
    expect(receivers).toEqual(["payment", "shipping", "notification"]);
    const orderId = "0c0ffee0-0000-4000-8000-000000000001";
    const ack = await js.publish(eventSubject(orderId, "ORDER_CREATED"), "{not json");
    const mismatched = "0c0ffee0-0000-4000-8000-000000000002";
    const ack2 = await js.publish(
      eventSubject(mismatched, "ORDER_CREATED"),
      JSON.stringify({
        eventType: "ORDER_CREATED",
        orderId: "0c0ffee0-0000-4000-8000-000000000003",
        userId: "u",
        eventId: "x",
        occurredAt: new Date().toISOString(),
        schemaVersion: 1,
        amount: 1,
        currency: "USD",
        items: [],
      }),
    );
    const letters = await waitUntil(
      async () => {
        const l = (await listDeadLetters(jsm)).filter((d) => d.streamSeq === ack.seq || d.streamSeq === ack2.seq);
        return l.length === 2 * receivers.length ? l : undefined;
      },
      { timeoutMs: 30_000, what: "each service delivered ORDER_CREATED to dead-letter both bad messages" },
    );
    expect(new Set(letters.map((l) => l.consumer.replace(/-lane\d+$/, "")))).toEqual(new Set(receivers));
    expect(letters.filter((l) => l.streamSeq === ack.seq).every((l) => l.reason === "message body is not JSON")).toBe(true);
    expect(letters.filter((l) => l.streamSeq === ack2.seq).every((l) => /does not match event/.test(l.reason))).toBe(true);
    expect(letters.every((l) => l.deliveries === 1)).toBe(true);
    const after = await postOrder(system.orderUrl, { userId: "after-bad", amount: 5 });
    await waitForStatus(system.orderUrl, after.body.orderId, ["SHIPPING_READY"]);
  });

  it("turns a MAX_DELIVERIES advisory (no handler verdict) into a dead letter", async () => {
    const js = jetstream(nc);
    const order = await postOrder(system.orderUrl, { userId: "advisory", amount: 3 });
    await waitForStatus(system.orderUrl, order.body.orderId, ["SHIPPING_READY"]);
    const stored = await jsm.streams.getMessage(ORDERS_STREAM, { last_by_subj: eventSubject(order.body.orderId, "ORDER_CREATED") });
    // A consumer whose deliveries all time out: nobody ever acks or naks.
    await jsm.consumers.add(ORDERS_STREAM, {
      durable_name: "stalled-reader",
      filter_subject: eventSubject(order.body.orderId, "ORDER_CREATED"),
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(300),
      max_deliver: 2,
    });
    const consumer = await js.consumers.get(ORDERS_STREAM, "stalled-reader");
    for (let i = 0; i < 2; i++) {
      const m = await consumer.next({ expires: 5_000 });
      expect(m?.seq).toBe(stored!.seq);
      await new Promise((r) => setTimeout(r, 400));
    }
    // The server notices the exhausted message (and advises) when it next tries to deliver.
    expect(await consumer.next({ expires: 2_000 })).toBeNull();
    const letter = await waitUntil(async () => (await listDeadLetters(jsm)).find((d) => d.consumer === "stalled-reader"), {
      timeoutMs: 20_000,
      what: "the advisory's dead letter",
    });
    expect(letter.streamSeq).toBe(stored!.seq);
    expect(letter.source).toBe("advisory");
    expect(letter.deliveries).toBe(2);
    expect(letter.reason).toMatch(/no handler verdict after 2 deliveries/);
  });
});
