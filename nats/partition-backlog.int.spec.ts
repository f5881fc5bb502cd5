/**
 * The backlog gauges against a real nats-server: the partition consumers keep the view from their
 * bindings and deliveries, and reading the gauges while messages flow asks the server for no
 * consumer info (on nats-server 2.9 an info resets a caught-up consumer's pending count, and each
 * delivery after that walks the stream's last block: BENCHMARKS.md, "Fifth session").
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { startNatsServer, type NatsServerHandle } from "../test/support/nats-server.ts";
import { waitUntil } from "../test/support/processes.ts";
import { createLogger } from "../shared/logger.ts";
import type { EventDraft } from "../shared/events.ts";
import { completeEvent } from "./publish-event.ts";
import { ensureOrderStreams, ensurePartitionConsumers } from "./setup.ts";
import { consumerName, consumerNames, eventSubject, ORDERS_STREAM, partitionOf } from "./subjects.ts";
import { PartitionBacklog, readJetStreamStats } from "./jetstream-stats.ts";
import { ensureDeadLetterStreams } from "./dead-letters.ts";
import { startPartitionedConsumers } from "./partitioned-consumer.ts";

let server: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  jsm = await jetstreamManager(nc);
  await ensureOrderStreams(jsm, 1);
  await ensurePartitionConsumers(jsm, ORDERS_STREAM, "payment");
  await ensureDeadLetterStreams(jsm, 1);
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

async function publishCreated(orderId: string): Promise<void> {
  const draft: EventDraft = { eventType: "ORDER_CREATED", orderId, userId: "backlog-user", amount: 5, currency: "USD", items: [{ sku: "B-1", quantity: 1, unitPrice: 5 }] };
  const event = completeEvent(draft);
  await jetstream(nc).publish(eventSubject(orderId, event.eventType), JSON.stringify(event), { msgID: event.eventId });
}

it("seeds the view at bind, follows deliveries, and reads the gauges without asking for consumer infos", async () => {
  // Three orders of one partition wait before the service starts.
  const ids: string[] = [];
  for (let i = 0; ids.length < 3 && i < 1_000; i++) if (partitionOf(`bk-${i}`) === 5) ids.push(`bk-${i}`);
  for (const id of ids) await publishCreated(id);
  const p05 = consumerName("payment", 5);

  const infoRequests: string[] = [];
  const spy = nc.subscribe("$JS.API.CONSUMER.INFO.>", { callback: (_err, msg) => void infoRequests.push(msg.subject) });
  await nc.flush();

  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  let handled = 0;
  const backlog = new PartitionBacklog(consumerNames("payment"));
  const running = await startPartitionedConsumers({
    js: jetstream(nc),
    service: "payment",
    relevant: new Set(["ORDER_CREATED"]),
    log: createLogger("payment", "silent"),
    backlog,
    handler: async () => {
      if (handled++ === 0) await held;
    },
  });
  try {
    // The first delivery is held: the view shows it in flight and the two behind it.
    await waitUntil(async () => handled === 1, { what: "the first delivery" });
    expect(backlog.snapshot().find((c) => c.consumer === p05)).toEqual({ consumer: p05, pending: 2, ackPending: 1, redelivered: 0 });
    // Binding looked each consumer up once (the info nats.js fetches to bind); reading the gauges asks nothing more.
    await nc.flush();
    const atBind = infoRequests.length;
    const stats = await readJetStreamStats(jsm, "payment", backlog);
    expect(stats.consumers).toHaveLength(16);
    expect(stats.consumers.find((c) => c.consumer === p05)).toMatchObject({ pending: 2, ackPending: 1 });
    release();
    await waitUntil(async () => handled === 3, { what: "all three orders handled" });
    await waitUntil(async () => backlog.snapshot().find((c) => c.consumer === p05)?.ackPending === 0, { what: "the last ack" });
    expect(backlog.snapshot().find((c) => c.consumer === p05)).toEqual({ consumer: p05, pending: 0, ackPending: 0, redelivered: 0 });
    await readJetStreamStats(jsm, "payment", backlog);
    await nc.flush();
    expect(infoRequests.slice(atBind)).toEqual([]);
  } finally {
    release();
    spy.unsubscribe();
    await running.stop();
  }
});
