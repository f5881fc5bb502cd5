/**
 * Runs a service's pure core against the stream: an order's state is the fold of the order's events
 * in stream order (whatever order they became known in here), and what the service does is what its
 * `decide` asks for on that state, carried out until it asks for nothing more.
 *
 * The events come from three places: deliveries, the service's own publishes (their stored sequence
 * comes back with the PubAck, so payment knows its PAYMENT_COMPLETED without being delivered it), and
 * the stream itself when the partition's owner does not know the order (one batch direct get of the
 * order's subjects). The owner keeps what it learnt in memory, so a happy order costs no read: it
 * sees the order from its opening event on. Nothing is stored besides the events: exactly-once effects
 * rest on the guarded publishes (one event of a type per order, whatever the retries) and on the
 * payment provider's idempotency keys.
 */
import { opensOrder, type OrderEvent } from "../shared/events.ts";
import type { Delivery, HandlerFactory, PartitionHandler } from "./delivery.ts";
import type { StoredEvent } from "./order-history.ts";

/** A service's reaction to orders: a pure fold, and a pure decision over everything known of the order. */
export interface OrderReactor<S, C> {
  initialState(): S;
  /** Applies one event; called in stream order. */
  evolve(state: S, event: OrderEvent): S;
  /** What must still be done for the order, given all that is known of it: empty when nothing. */
  decide(state: S): C[];
  /**
   * True when no event can make `decide` ask for anything again (the service is done with the
   * order): it is not kept in memory then. Without it, every order stays until pushed out.
   */
  settled?(state: S): boolean;
}

/** An event as the stream holds it: what a publish answers (new or already there) and a read returns. */
export interface SequencedEvent {
  seq: number;
  event: OrderEvent;
  /** True when a publish found the event already stored (written before, by this or another instance). */
  duplicate?: boolean;
}

export interface ReactorRuntime<S, C> {
  reactor: OrderReactor<S, C>;
  /**
   * Carries one command out and resolves with the event that records it, as stored. Must be
   * idempotent: the same command may come again after a crash, a retry or a replay.
   */
  perform(command: C, cause: { event: OrderEvent; delivery: Delivery; state: S }): Promise<SequencedEvent>;
  /** The order's events from the stream (nats/order-history.ts `readOrderEvents`). */
  read(orderId: string): Promise<Pick<StoredEvent, "seq" | "event">[]>;
  /** Told each event this instance recorded new, with the state before it (metrics). */
  recorded?(event: OrderEvent, before: S): void;
  /** Orders remembered per partition (least recently used ones are dropped). */
  memorySize?: number;
}

/**
 * Orders remembered per partition: those in flight at a few thousand orders/s (shipping holds an
 * order from its ORDER_CREATED to its PAYMENT_COMPLETED, milliseconds apart; 128 per partition is
 * a second of orders at 2,000/s). One forgotten costs a read of its events when it comes back.
 * 128 rather than 256: the same orders/s and CPU per order at saturation, and shipping's peak RSS
 * 111 MB instead of 120-123 (BENCHMARKS.md, "Settings decided by measurement").
 */
export const DEFAULT_MEMORY_SIZE = 128;
/** decide → perform rounds per event at most: a core that keeps asking has a bug, not a backlog. */
const MAX_ROUNDS = 8;

interface Known<S> {
  events: SequencedEvent[];
  state: S;
}

/** The handler factory for a service core: one memory of orders per partition worker. */
export function reactorHandlers<S, C>(runtime: ReactorRuntime<S, C>): HandlerFactory {
  return () => new ReactorHandler(runtime);
}

class ReactorHandler<S, C> implements PartitionHandler {
  private readonly memory = new Map<string, Known<S>>();
  private readonly capacity: number;
  /** Bumped by forget(): work that started before it must not put its (maybe stale) view back. */
  private generation = 0;

  constructor(private readonly rt: ReactorRuntime<S, C>) {
    this.capacity = rt.memorySize ?? DEFAULT_MEMORY_SIZE;
  }

  forget(orderId?: string): void {
    if (orderId === undefined) {
      this.generation++;
      this.memory.clear();
    } else {
      this.memory.delete(orderId);
    }
  }

  async handle(event: OrderEvent, delivery: Delivery): Promise<void> {
    const generation = this.generation;
    const orderId = event.orderId;
    let known = this.memory.get(orderId);
    this.memory.delete(orderId);
    if (!known) {
      // Nothing of an order comes before its opening event: seen first-hand, it needs no read.
      known = opensOrder(event) && delivery.firstSight ? this.initial() : this.fold(await this.rt.read(orderId));
    }
    this.learn(known, { seq: delivery.seq, event });
    for (let round = 1; ; round++) {
      const commands = this.rt.reactor.decide(known.state);
      if (commands.length === 0) break;
      if (round > MAX_ROUNDS)
        throw new Error(`order ${orderId}: decide still asks for ${JSON.stringify(commands[0])} after ${MAX_ROUNDS} rounds`);
      for (const command of commands) {
        const before = known.state;
        const recorded = await this.rt.perform(command, { event, delivery, state: before });
        if (this.learn(known, recorded) && !recorded.duplicate) this.rt.recorded?.(recorded.event, before);
      }
    }
    if (generation !== this.generation) return;
    // A settled order is not kept: what it holds (its events, parsed) would otherwise live until
    // pushed out by newer orders, outliving the young generation; an event of it that still comes
    // (a redelivery, a late cancel) is decided on the order read back from the stream.
    if (this.rt.reactor.settled?.(known.state)) return;
    this.memory.set(orderId, known);
    if (this.memory.size > this.capacity) this.memory.delete(this.memory.keys().next().value!);
  }

  private initial(): Known<S> {
    return { events: [], state: this.rt.reactor.initialState() };
  }

  private fold(events: readonly SequencedEvent[]): Known<S> {
    const known = this.initial();
    for (const e of events) this.learn(known, e);
    return known;
  }

  /** Adds an event unless known; false when it was. The state is refolded when it lands before others. */
  private learn(known: Known<S>, e: SequencedEvent): boolean {
    const events = known.events;
    let i = events.length;
    while (i > 0 && events[i - 1]!.seq > e.seq) i--;
    if (i > 0 && events[i - 1]!.seq === e.seq) return false;
    // push, not splice, in the usual case: splice makes an (empty) array of what it removed.
    if (i === events.length) events.push({ seq: e.seq, event: e.event });
    else events.splice(i, 0, { seq: e.seq, event: e.event });
    const { reactor } = this.rt;
    known.state =
      i === events.length - 1
        ? reactor.evolve(known.state, e.event)
        : events.reduce((s, x) => reactor.evolve(s, x.event), reactor.initialState());
    return true;
  }
}
