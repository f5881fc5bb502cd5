/**
 * The partition worker against a real nats-server: one lane consumer of the notification
 * service (which consumes every event type), events published straight to the stream, a handler
 * the spec controls. What it checks is what the services rely on: one order's events in stream
 * order while orders run concurrently, the cumulative ack floor, retries, dead letters, and a
 * stop that finishes what it took and takes nothing more.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { useNatsServer } from "../test/support/use-nats-server.ts";
import { waitUntil } from "../test/support/processes.ts";
import { anEvent } from "../shared/testing/decider-spec.ts";
import type { EventType, OrderEvent } from "../shared/events.ts";
import { newOrderId } from "../shared/ids.ts";
import { createLogger } from "../shared/logger.ts";
import { Kvm } from "@nats-io/kv";
import { ensureOrderStreams, ensurePartitionConsumer } from "./setup.ts";
import { kvCrashSuspects } from "./crash-suspects.ts";
import { partitionConsumerConfig } from "./definitions.ts";
import { consumerName, eventSubject, laneOfOrder, LANES, ORDERS_STREAM, OWNER_GROUP } from "./subjects.ts";
import { PartitionWorker, type PartitionWorkerOptions } from "./partition-worker.ts";
import type { Delivery, GivenUp, PartitionHandler } from "./delivery.ts";

const SERVICE = "notification";
const log = createLogger("partition-worker-spec", "silent");

const nats = useNatsServer();
/** Each spec runs on its own lane (4 of them: then again from lane 0, on an empty stream and a new consumer). */
let spec = 0;
let lane = 0;
let worker: PartitionWorker | undefined;

beforeAll(() => ensureOrderStreams(nats.jsm, 1));

afterEach(async () => {
  await worker?.stop(true);
  worker = undefined;
  await nats.jsm.consumers.delete(ORDERS_STREAM, consumerName(SERVICE, lane)).catch(() => false);
  await nats.jsm.streams.purge(ORDERS_STREAM);
  spec++;
  lane = spec % LANES;
});

/** Order ids of the spec's current lane (each spec uses a fresh consumer). */
function ordersOfPartition(n: number): string[] {
  const ids: string[] = [];
  for (let i = 0; i < 10_000 && ids.length < n; i++) {
    const id = newOrderId();
    if (laneOfOrder(id) === lane) ids.push(id);
  }
  return ids;
}

async function publish(orderId: string, type: EventType): Promise<number> {
  const event: OrderEvent = anEvent(type, { orderId });
  const ack = await nats.js.publish(eventSubject(orderId, type), JSON.stringify(event));
  return ack.seq;
}

interface Handled {
  orderId: string;
  eventType: string;
  delivery: Delivery;
}

/** A handler recording what it was given; `act` decides how each call ends. */
function recordingHandler(act: (event: OrderEvent, delivery: Delivery) => Promise<void> = async () => {}) {
  const handled: Handled[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const handler: PartitionHandler = {
    async handle(event, delivery) {
      handled.push({ orderId: event.orderId, eventType: event.eventType, delivery });
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        await act(event, delivery);
      } finally {
        inFlight--;
      }
    },
    forget() {},
  };
  return { handler, handled, maxInFlight: () => maxInFlight };
}

async function startWorker(handler: PartitionHandler, more: Partial<PartitionWorkerOptions> = {}): Promise<PartitionWorker> {
  await ensurePartitionConsumer(nats.jsm, ORDERS_STREAM, partitionConsumerConfig(SERVICE, lane));
  worker = new PartitionWorker({ js: nats.js, jsm: nats.jsm, service: SERVICE, lane, handler, log, retryDelayMs: () => 10, ...more });
  await worker.start();
  return worker;
}

async function ackFloor(): Promise<number> {
  return (await nats.jsm.consumers.info(ORDERS_STREAM, consumerName(SERVICE, lane))).ack_floor.stream_seq;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const HAPPY: EventType[] = ["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"];

describe("PartitionWorker", () => {
  it("hands each order's events over in stream order while different orders run concurrently", async () => {
    const orders = ordersOfPartition(6);
    const seqs = new Map<string, number[]>();
    for (const type of HAPPY) for (const id of orders) seqs.set(id, [...(seqs.get(id) ?? []), await publish(id, type)]);
    // Later orders finish first: a handler slower for the first orders.
    const { handler, handled, maxInFlight } = recordingHandler((e) => sleep(5 * (orders.length - orders.indexOf(e.orderId))));
    await startWorker(handler);
    await waitUntil(() => handled.length === orders.length * HAPPY.length, { what: "every event handled" });
    for (const id of orders) {
      const mine = handled.filter((h) => h.orderId === id);
      expect(mine.map((h) => h.eventType)).toEqual(HAPPY);
      expect(mine.map((h) => h.delivery.seq)).toEqual(seqs.get(id));
    }
    expect(maxInFlight()).toBeGreaterThan(1);
    const last = Math.max(...[...seqs.values()].flat());
    await waitUntil(async () => (await ackFloor()) === last, { what: "the ack floor at the last event" });
  });

  it("acknowledges only up to the lowest event not done, however many later ones are done", async () => {
    const [slow, fast] = ordersOfPartition(2) as [string, string];
    const slowSeq = await publish(slow, "ORDER_CREATED");
    const fastSeqs = [await publish(fast, "ORDER_CREATED"), await publish(fast, "PAYMENT_COMPLETED")];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const { handler, handled } = recordingHandler((e) => (e.orderId === slow ? held : Promise.resolve()));
    const w = await startWorker(handler);
    await waitUntil(() => handled.filter((h) => h.orderId === fast).length === 2, { what: "the later order handled" });
    try {
      // Give a wrongly sent ack the time to reach the server, then look.
      await sleep(300);
      expect(await ackFloor()).toBeLessThan(slowSeq);
      expect(w.stats().unacked).toBe(3);
    } finally {
      release();
    }
    await waitUntil(async () => (await ackFloor()) === fastSeqs[1], { what: "the floor over all three" });
    expect(w.stats().unacked).toBe(0);
  });

  it("tries a failing event again (attempt numbers rising) and holds back only its own order", async () => {
    const [flaky, other] = ordersOfPartition(2) as [string, string];
    await publish(flaky, "ORDER_CREATED");
    const flakySecond = await publish(flaky, "PAYMENT_COMPLETED");
    await publish(other, "ORDER_CREATED");
    let failures = 0;
    const { handler, handled } = recordingHandler(async (e) => {
      if (e.orderId === flaky && e.eventType === "ORDER_CREATED" && failures < 2) {
        failures++;
        throw new Error("provider unavailable");
      }
    });
    const retried: string[] = [];
    await startWorker(handler, { onHandled: (r) => r.outcome === "retried" && retried.push(r.eventType), retryDelayMs: () => 200 });
    await waitUntil(() => handled.some((h) => h.orderId === flaky && h.eventType === "PAYMENT_COMPLETED"), {
      what: "the flaky order done",
    });
    const attempts = handled.filter((h) => h.orderId === flaky && h.eventType === "ORDER_CREATED").map((h) => h.delivery.attempt);
    expect(attempts).toEqual([1, 2, 3]);
    expect(retried).toEqual(["ORDER_CREATED", "ORDER_CREATED"]);
    // The other order was not held back by the pauses between attempts.
    const otherAt = handled.findIndex((h) => h.orderId === other);
    const flakyDone = handled.findIndex((h) => h.orderId === flaky && h.delivery.attempt === 3);
    expect(otherAt).toBeLessThan(flakyDone);
    // Its later event came only after it succeeded.
    expect(handled.findIndex((h) => h.eventType === "PAYMENT_COMPLETED")).toBeGreaterThan(flakyDone);
    await waitUntil(async () => (await ackFloor()) >= flakySecond, { what: "the floor at the flaky order's last event" });
  });

  it("dead-letters an event out of attempts, then goes on with the order's next event and acknowledges past it", async () => {
    const [doomed] = ordersOfPartition(1) as [string];
    const doomedSeq = await publish(doomed, "ORDER_CREATED");
    const nextSeq = await publish(doomed, "PAYMENT_COMPLETED");
    const givenUp: GivenUp[] = [];
    const outcomes: string[] = [];
    const { handler, handled } = recordingHandler(async (e) => {
      if (e.eventType === "ORDER_CREATED") throw new Error("always broken");
    });
    await startWorker(handler, {
      maxAttempts: 3,
      giveUp: async (m) => void givenUp.push(m),
      onHandled: (r) => outcomes.push(`${r.eventType}:${r.outcome}`),
    });
    await waitUntil(() => handled.some((h) => h.eventType === "PAYMENT_COMPLETED"), { what: "the next event handled" });
    expect(givenUp).toHaveLength(1);
    expect(givenUp[0]).toMatchObject({ seq: doomedSeq, attempts: 3, consumer: consumerName(SERVICE, lane) });
    expect(givenUp[0]!.reason).toMatch(/handler failed 3 times: always broken/);
    expect(outcomes).toEqual(["ORDER_CREATED:retried", "ORDER_CREATED:retried", "ORDER_CREATED:dead_lettered", "PAYMENT_COMPLETED:ok"]);
    await waitUntil(async () => (await ackFloor()) === nextSeq, { what: "the floor past both" });
  });

  it("rejects a message that is not a valid event to the dead letters, without calling the handler", async () => {
    const [id] = ordersOfPartition(1) as [string];
    const badSeq = (await nats.js.publish(eventSubject(id, "ORDER_CREATED"), "{not json")).seq;
    const givenUp: GivenUp[] = [];
    const { handler, handled } = recordingHandler();
    await startWorker(handler, { giveUp: async (m) => void givenUp.push(m) });
    await waitUntil(() => givenUp.length === 1, { what: "the dead letter" });
    expect(givenUp[0]).toMatchObject({ seq: badSeq, attempts: 1, reason: "message body is not JSON" });
    expect(handled).toEqual([]);
    await waitUntil(async () => (await ackFloor()) === badSeq, { what: "the floor past it" });
  });

  it("on stop, finishes what it took, acknowledges it, and takes nothing published afterwards", async () => {
    const [id, later] = ordersOfPartition(2) as [string, string];
    const seq = await publish(id, "ORDER_CREATED");
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const { handler, handled } = recordingHandler(async () => {
      started();
      await sleep(300);
    });
    const w = await startWorker(handler);
    await running;
    await w.stop(true);
    worker = undefined;
    expect(handled.map((h) => h.delivery.seq)).toEqual([seq]);
    expect(await ackFloor()).toBe(seq);
    await publish(later, "ORDER_CREATED");
    await sleep(500);
    expect(handled).toHaveLength(1);
    // Handed over: no pin left for the next owner to wait out.
    const info = (await nats.jsm.consumers.info(ORDERS_STREAM, consumerName(SERVICE, lane))) as unknown as {
      priority_groups?: { pinned_client_id?: string }[];
    };
    expect(info.priority_groups?.[0]?.pinned_client_id ?? "").toBe("");
  });

  it("takes over what a dead owner left: suspects one at a time, the one owners died of three times dead-lettered, new events after", async () => {
    const [o1, o2, o3, o4] = ordersOfPartition(4) as [string, string, string, string];
    const left = [await publish(o1, "ORDER_CREATED"), await publish(o2, "ORDER_CREATED"), await publish(o3, "ORDER_CREATED")];
    const suspects = kvCrashSuspects(await new Kvm(nats.nc).create(`spec_suspects_${spec}`), SERVICE);
    // The first owner takes all three and never finishes (its handlers hang), then its connection goes: it died.
    const deadConn = await connect({ servers: nats.url });
    const hanging = recordingHandler(() => new Promise<void>(() => {}));
    await ensurePartitionConsumer(nats.jsm, ORDERS_STREAM, partitionConsumerConfig(SERVICE, lane));
    const dead = new PartitionWorker({
      js: jetstream(deadConn),
      jsm: await jetstreamManager(deadConn),
      service: SERVICE,
      lane,
      handler: hanging.handler,
      log,
      retryDelayMs: () => 10,
      suspects,
    });
    await dead.start();
    await waitUntil(() => hanging.handled.length === 3, { what: "the first owner holding all three" });
    // Owners died twice already while handling o2 alone.
    await suspects.started(lane, left[1]!, 2);
    await deadConn.close();
    // Its pin would expire after OWNER_TTL_MS; unpinned at once here.
    await nats.jsm.consumers.unpin(ORDERS_STREAM, consumerName(SERVICE, lane), OWNER_GROUP);

    const givenUp: GivenUp[] = [];
    const { handler, handled, maxInFlight } = recordingHandler(() => sleep(20));
    await startWorker(handler, { suspects, giveUp: async (m) => void givenUp.push(m) });
    // A new event is what pins the new owner (the old ones come back only after ack_wait).
    const fresh = await publish(o4, "ORDER_CREATED");
    await waitUntil(() => handled.some((h) => h.orderId === o4), { what: "the new event handled" });
    expect(handled.map((h) => h.orderId)).toEqual([o1, o3, o4]);
    expect(handled.every((h) => !h.delivery.firstSight || h.orderId === o4)).toBe(true);
    expect(maxInFlight()).toBe(1);
    expect(givenUp.map((g) => [g.seq, g.reason])).toEqual([[left[1], "crashed the consumer 3 times"]]);
    // Done ones leave no record behind.
    for (const seq of left) expect(await suspects.starts(lane, seq)).toBe(0);
    await waitUntil(async () => (await ackFloor()) === fresh, { what: "the floor at the new event" });
  });
});
