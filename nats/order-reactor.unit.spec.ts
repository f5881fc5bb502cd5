import { ROOT_CONTEXT } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { anEvent } from "../shared/testing/decider-spec.ts";
import type { EventType, OrderEvent } from "../shared/events.ts";
import type { Delivery, PartitionHandler } from "./delivery.ts";
import { reactorHandlers, type OrderReactor, type SequencedEvent } from "./order-reactor.ts";

/** A small core: charge once an order is created, unless it was charged or cancelled. */
type State = EventType[];
const chargeOnce: OrderReactor<State, "charge"> = {
  initialState: () => [],
  evolve: (s, e) => [...s, e.eventType],
  decide: (s) => (s.includes("ORDER_CREATED") && !s.includes("PAYMENT_COMPLETED") && !s.includes("ORDER_CANCELLED") ? ["charge"] : []),
};

/**
 * One order's events in stream order, as the runtime sees them: `perform` appends (or finds the
 * event already there: a duplicate, like a guarded publish), `read` answers them all.
 */
function given(
  events: EventType[] = [],
  opts: {
    reactor?: OrderReactor<State, "charge">;
    memorySize?: number;
    /** What a read answers instead of the whole order (a stale view). */
    read?: (log: SequencedEvent[]) => SequencedEvent[];
    /** Awaited by perform before it appends (a slow charge). */
    performGate?: Promise<void>;
  } = {},
) {
  const log: SequencedEvent[] = events.map((t, i) => ({ seq: i + 1, event: anEvent(t) }));
  const reads: string[] = [];
  const performed: { command: string; state: State }[] = [];
  const recorded: { event: string; before: State }[] = [];
  let nextSeq = log.length + 1;
  const append = (event: OrderEvent): SequencedEvent => {
    const existing = log.find((e) => e.event.orderId === event.orderId && e.event.eventType === event.eventType);
    if (existing) return { ...existing, duplicate: true };
    const stored = { seq: nextSeq++, event };
    log.push(stored);
    return stored;
  };
  const handler: PartitionHandler = reactorHandlers<State, "charge">({
    reactor: opts.reactor ?? chargeOnce,
    memorySize: opts.memorySize,
    async perform(command, cause) {
      performed.push({ command, state: cause.state });
      await opts.performGate;
      return append(anEvent("PAYMENT_COMPLETED", { orderId: cause.event.orderId }));
    },
    async read(orderId) {
      reads.push(orderId);
      const mine = log.filter((e) => e.event.orderId === orderId);
      return opts.read ? opts.read(mine) : mine;
    },
    recorded: (event, before) => recorded.push({ event: event.eventType, before }),
  })();
  /** Delivers the order's event of `type` (appended to the stream first unless it is there). */
  const deliver = (type: EventType, firstSight = false, orderId?: string) => {
    const stored = append(anEvent(type, orderId ? { orderId } : {}));
    const delivery: Delivery = {
      seq: stored.seq,
      subject: "",
      consumer: "spec",
      attempt: 1,
      traceparent: null,
      trace: ROOT_CONTEXT,
      firstSight,
    };
    return handler.handle(stored.event, delivery);
  };
  return { handler, deliver, log, reads, performed, recorded, append };
}

describe("order reactor", () => {
  it("given an order opened first-hand, when it is delivered, then it needs no read and its command is carried out once", async () => {
    const { deliver, reads, performed, recorded, log } = given();
    await deliver("ORDER_CREATED", true);
    expect(reads).toEqual([]);
    expect(performed).toEqual([{ command: "charge", state: ["ORDER_CREATED"] }]);
    expect(recorded).toEqual([{ event: "PAYMENT_COMPLETED", before: ["ORDER_CREATED"] }]);
    expect(log.map((e) => e.event.eventType)).toEqual(["ORDER_CREATED", "PAYMENT_COMPLETED"]);
  });

  it("given an order not seen first-hand (a redelivery, a new owner), when delivered, then it is folded from the stream first", async () => {
    const { deliver, reads, performed, recorded } = given(["ORDER_CREATED", "PAYMENT_COMPLETED"]);
    await deliver("ORDER_CREATED");
    expect(reads).toHaveLength(1);
    // Already charged in the stream: nothing to do.
    expect(performed).toEqual([]);
    expect(recorded).toEqual([]);
  });

  it("given a command whose event is already stored (another owner charged), then it is learnt as a duplicate and not recorded", async () => {
    const { deliver, append, performed, recorded, reads } = given();
    append(anEvent("ORDER_CREATED"));
    append(anEvent("PAYMENT_COMPLETED"));
    // Delivered as if first-hand: no read, so decide asks for the charge the stream already holds.
    await deliver("ORDER_CREATED", true);
    expect(performed).toHaveLength(1);
    expect(recorded).toEqual([]);
    // Learnt all the same: the next event asks for nothing and reads nothing.
    await deliver("SHIPPING_READY");
    expect(performed).toHaveLength(1);
    expect(reads).toEqual([]);
  });

  it("given a remembered order, when its next event comes, then no read is needed", async () => {
    const { deliver, reads } = given();
    await deliver("ORDER_CREATED", true);
    await deliver("SHIPPING_READY");
    expect(reads).toEqual([]);
  });

  it("given forget(orderId) (one of its events failed), when its next event comes, then it is read again", async () => {
    const { deliver, handler, reads } = given();
    await deliver("ORDER_CREATED", true);
    handler.forget(anEvent("ORDER_CREATED").orderId);
    await deliver("SHIPPING_READY");
    expect(reads).toHaveLength(1);
  });

  it("given forget() while an event is being handled (a takeover), then that handling does not put its view back", async () => {
    let release!: () => void;
    const performGate = new Promise<void>((r) => (release = r));
    const { deliver, handler, reads, performed } = given([], { performGate });
    const first = deliver("ORDER_CREATED", true);
    await new Promise((r) => setTimeout(r, 0));
    expect(performed).toHaveLength(1);
    // The charge is under way: the partition changes hands meanwhile.
    handler.forget();
    release();
    await first;
    await deliver("SHIPPING_READY");
    expect(reads).toHaveLength(1);
  });

  it("given an event learnt below one already known, then the state is refolded in stream order", async () => {
    const seen: State[] = [];
    const core: OrderReactor<State, "charge"> = {
      ...chargeOnce,
      decide: (s) => {
        seen.push(s);
        return [];
      },
    };
    // The read sees only the later event (a view from before the earlier one was readable).
    const { deliver } = given(["ORDER_CREATED", "ORDER_CANCEL_REQUESTED"], { reactor: core, read: (mine) => mine.slice(1) });
    await deliver("ORDER_CREATED");
    expect(seen).toEqual([["ORDER_CREATED", "ORDER_CANCEL_REQUESTED"]]);
  });

  it("given a core that keeps asking, then handling throws after the round limit instead of looping", async () => {
    const { deliver } = given([], { reactor: { ...chargeOnce, decide: () => ["charge"] } });
    await expect(deliver("ORDER_CREATED", true)).rejects.toThrow(/still asks for "charge" after 8 rounds/);
  });

  it("given more orders than its memory, then the least recently used is read again", async () => {
    const { deliver, reads } = given([], { memorySize: 2 });
    const ids = ["a", "b", "c"].map((c) => `${c}0000000-0000-4000-8000-000000000000`);
    for (const id of ids) await deliver("ORDER_CREATED", true, id);
    expect(reads).toEqual([]);
    await deliver("SHIPPING_READY", false, ids[2]);
    await deliver("SHIPPING_READY", false, ids[0]);
    expect(reads).toEqual([ids[0]]);
  });
});
