/**
 * The per-order state fence against a real nats-server: events applied once each, in order, with
 * decisions made on the state as stored — read from memory only within one delivery streak, and
 * from the bucket when another instance handled the order in between, when an event failed, or
 * when the bucket was purged under a running handler (a replay with the fences lost).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { startNatsServer, type NatsServerHandle } from "../test/support/nats-server.ts";
import { bucketOptions, ensureBucket } from "./setup.ts";
import { completeEvent } from "./publish-event.ts";
import { createOrderStateStore, statefulHandler, type OrderProcess, type OrderStateStore } from "./order-state.ts";
import type { Delivery, EventHandler } from "./partitioned-consumer.ts";
import type { EventDraft, OrderEvent } from "../shared/events.ts";
import { ROOT_CONTEXT } from "@opentelemetry/api";

/** The state is the list of event types applied; every event asks for one command naming it. */
type Seen = string[];
interface Command {
  eventType: string;
  /** How many events the decision saw before this one: proves what state it was made on. */
  seenBefore: number;
}

let server: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;
let kv: KV;
let bucket = 0;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

beforeEach(async () => {
  kv = await ensureBucket(nc, jsm, `state-test-${++bucket}`, { ...bucketOptions.state, replicas: 1 });
});

const ORDER = "0b7c7e0e-3f43-4a8f-9f0e-4f2f5f6a7b8c";
const drafts: EventDraft[] = [
  { eventType: "ORDER_CREATED", orderId: ORDER, userId: "u1", amount: 10, currency: "USD", items: [{ sku: "A", quantity: 1, unitPrice: 10 }] },
  { eventType: "ORDER_CANCEL_REQUESTED", orderId: ORDER, userId: "u1" },
  { eventType: "PAYMENT_COMPLETED", orderId: ORDER, userId: "u1", paymentId: "p1", amount: 10, currency: "USD" },
  { eventType: "SHIPPING_READY", orderId: ORDER, userId: "u1", shippingId: "s1" },
];
const events: OrderEvent[] = drafts.map((d) => completeEvent(d));

function delivery(seq: number, streak: string | null): Delivery {
  return { seq, subject: `orders.0.${ORDER}.x`, consumer: "test", deliveryCount: 1, traceparent: null, trace: ROOT_CONTEXT, streak, working() {} };
}

interface Instance {
  handle: EventHandler;
  performed: Command[];
  /** KV reads made so far. */
  reads: number;
  /** Make the next `n` performs fail. */
  failNext(n: number): void;
}

/** `quietOpening`: ORDER_CREATED calls for no command (as for the order view and shipping). */
function instance({ quietOpening = false } = {}): Instance {
  let failures = 0;
  const store = createOrderStateStore<Seen>(kv);
  const me: Instance = {
    performed: [],
    reads: 0,
    failNext: (n) => void (failures = n),
    handle: undefined as unknown as EventHandler,
  };
  const counting: OrderStateStore<Seen> = {
    load: (orderId) => (me.reads++, store.load(orderId)),
    save: (orderId, stored, revision) => store.save(orderId, stored, revision),
  };
  const process: OrderProcess<Seen, Command> = {
    initialState: () => [],
    evolve: (seen, event) => [...seen, event.eventType],
    decide: (seen, event) =>
      quietOpening && event.eventType === "ORDER_CREATED" ? [] : [{ eventType: event.eventType, seenBefore: seen.length }],
    async perform(command) {
      if (failures > 0) {
        failures--;
        throw new Error("effect failed");
      }
      me.performed.push(command);
    },
  };
  me.handle = statefulHandler(process, counting);
  return me;
}

async function stored() {
  return (await createOrderStateStore<Seen>(kv).load(ORDER)).stored;
}

describe("statefulHandler", () => {
  it("applies each event once, in order, reading the bucket only for the first event of a streak", async () => {
    const a = instance();
    for (const [i, event] of events.entries()) await a.handle(event, delivery(i + 1, "p0#1/1"));
    expect(a.performed.map((c) => c.seenBefore)).toEqual([0, 1, 2, 3]);
    expect(a.reads).toBe(1);
    expect((await stored())?.state).toEqual(events.map((e) => e.eventType));
    expect((await stored())?.lastSeq).toBe(4);
  });

  it("reads the bucket again when another instance handled the order in between (a new streak)", async () => {
    const a = instance();
    const b = instance();
    await a.handle(events[0]!, delivery(1, "a/1"));
    await b.handle(events[1]!, delivery(2, "b/1"));
    await a.handle(events[2]!, delivery(3, "a/2"));
    await b.handle(events[3]!, delivery(4, "b/2"));
    expect([...a.performed, ...b.performed].sort((x, y) => x.seenBefore - y.seenBefore)).toEqual(
      events.map((e, i) => ({ eventType: e.eventType, seenBefore: i })),
    );
    expect(a.reads + b.reads).toBe(4);
    expect((await stored())?.state).toEqual(events.map((e) => e.eventType));
  });

  it("outside a partition consumer (a dead-letter retry) always reads the bucket", async () => {
    const a = instance();
    await a.handle(events[0]!, delivery(1, null));
    await a.handle(events[1]!, delivery(2, null));
    expect(a.reads).toBe(2);
    expect(a.performed.map((c) => c.seenBefore)).toEqual([0, 1]);
  });

  it("a failed event changes no state; its redelivery applies it in full; older events are skipped", async () => {
    const a = instance();
    await a.handle(events[0]!, delivery(1, "s/1"));
    a.failNext(1);
    await expect(a.handle(events[1]!, delivery(2, "s/1"))).rejects.toThrow("effect failed");
    expect((await stored())?.state).toEqual(["ORDER_CREATED"]);
    await a.handle(events[1]!, delivery(2, "s/2"));
    await a.handle(events[0]!, delivery(1, "s/2"));
    expect(a.performed).toEqual([
      { eventType: "ORDER_CREATED", seenBefore: 0 },
      { eventType: "ORDER_CANCEL_REQUESTED", seenBefore: 1 },
    ]);
    expect((await stored())?.state).toEqual(["ORDER_CREATED", "ORDER_CANCEL_REQUESTED"]);
  });

  it("applies again what the bucket no longer holds, whatever the copy in memory says", async () => {
    const a = instance();
    await a.handle(events[0]!, delivery(1, "s/1"));
    await a.handle(events[1]!, delivery(2, "s/1"));
    await kv.purge(ORDER);
    await a.handle(events[0]!, delivery(1, "s/1"));
    await a.handle(events[1]!, delivery(2, "s/1"));
    expect(a.performed.map((c) => c.seenBefore)).toEqual([0, 1, 0, 1]);
    expect((await stored())?.state).toEqual(["ORDER_CREATED", "ORDER_CANCEL_REQUESTED"]);
  });

  it("a copy that another writer moved past fails the compare-and-set and is not kept", async () => {
    const a = instance();
    await a.handle(events[0]!, delivery(1, "s/1"));
    // Someone else (a stalled worker's redelivery elsewhere) applied seq 2 meanwhile.
    const entry = await createOrderStateStore<Seen>(kv).load(ORDER);
    await createOrderStateStore<Seen>(kv).save(ORDER, { state: ["ORDER_CREATED", "ORDER_CANCEL_REQUESTED"], lastSeq: 2 }, entry.revision);
    await a.handle(events[1]!, delivery(2, "s/1"));
    expect((await stored())?.lastSeq).toBe(2);
    await a.handle(events[2]!, delivery(3, "s/1"));
    expect(a.performed.at(-1)).toEqual({ eventType: "PAYMENT_COMPLETED", seenBefore: 2 });
    expect((await stored())?.state).toEqual(["ORDER_CREATED", "ORDER_CANCEL_REQUESTED", "PAYMENT_COMPLETED"]);
  });

  it("applies an opening event that calls for no effect without reading the bucket", async () => {
    const a = instance({ quietOpening: true });
    await a.handle(events[0]!, delivery(1, "s/1"));
    await a.handle(events[1]!, delivery(2, "s/1"));
    expect(a.reads).toBe(0);
    expect(a.performed).toEqual([{ eventType: "ORDER_CANCEL_REQUESTED", seenBefore: 1 }]);
    expect(await stored()).toEqual({ state: ["ORDER_CREATED", "ORDER_CANCEL_REQUESTED"], lastSeq: 2 });
  });

  it("skips a replayed opening event that calls for no effect: its create fails, and the entry read then is kept", async () => {
    const a = instance({ quietOpening: true });
    await a.handle(events[0]!, delivery(1, "a/1"));
    await a.handle(events[1]!, delivery(2, "a/1"));
    const replaying = instance({ quietOpening: true });
    await replaying.handle(events[0]!, delivery(1, "r/1"));
    expect(replaying.performed).toEqual([]);
    expect(replaying.reads).toBe(1);
    // The next event of the streak is decided on that entry, without another read.
    await replaying.handle(events[2]!, delivery(3, "r/1"));
    expect(replaying.reads).toBe(1);
    expect(replaying.performed).toEqual([{ eventType: "PAYMENT_COMPLETED", seenBefore: 2 }]);
    expect(await stored()).toEqual({ state: ["ORDER_CREATED", "ORDER_CANCEL_REQUESTED", "PAYMENT_COMPLETED"], lastSeq: 3 });
  });

  it("applies an opening event on what the bucket holds when the entry was assumed absent and is not (a purge marker)", async () => {
    const a = instance({ quietOpening: true });
    await a.handle(events[0]!, delivery(1, "s/1"));
    await a.handle(events[1]!, delivery(2, "s/1"));
    await kv.purge(ORDER);
    const b = instance({ quietOpening: true });
    await b.handle(events[0]!, delivery(1, "b/1"));
    await b.handle(events[1]!, delivery(2, "b/1"));
    expect(b.performed).toEqual([{ eventType: "ORDER_CANCEL_REQUESTED", seenBefore: 1 }]);
    expect(await stored()).toEqual({ state: ["ORDER_CREATED", "ORDER_CANCEL_REQUESTED"], lastSeq: 2 });
  });

  it("reads the bucket before an opening event that calls for an effect, so a replay does not carry it out again", async () => {
    await instance().handle(events[0]!, delivery(1, "a/1"));
    const replaying = instance();
    await replaying.handle(events[0]!, delivery(1, "r/1"));
    expect(replaying.reads).toBe(1);
    expect(replaying.performed).toEqual([]);
  });
});
