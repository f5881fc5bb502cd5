/**
 * Per-order state of a service in a KV bucket, with the stream sequence of the last event applied.
 *
 * That sequence is the fence that makes handling idempotent and ordered: an event at or below it was
 * already applied (a redelivery, a replay, a worker that stalled past ack_wait) and is skipped; the
 * write is a compare-and-set on the entry's revision, so two workers can never both apply one event.
 *
 * An event is applied as: decide on the state before it → carry the commands out (idempotent:
 * guarded publishes, provider idempotency keys) → save the new state → ack. A failed or given-up
 * event leaves the state as it was, so a redelivery or a dead-letter retry applies it in full.
 *
 * The state a worker wrote is kept in memory and used for the order's next event instead of a KV
 * read, but only while the worker's delivery streak on that partition is unbroken (see
 * `Delivery.streak`): then no other worker can have applied an event of the order since. An order's
 * opening event needs no read either when it calls for no effect: the state before it is the
 * initial one by definition, and its save is a create that fails if it was applied before.
 */
import type { KV } from "@nats-io/kv";
import { isWrongLastSequence } from "./wrong-last-sequence.ts";
import { opensOrder, type OrderEvent } from "../shared/events.ts";
import type { Delivery, EventHandler } from "./partitioned-consumer.ts";


export interface Stored<S> {
  state: S;
  lastSeq: number;
}

export interface Loaded<S> {
  stored: Stored<S> | null;
  /** KV revision of the entry, 0 when there is none. */
  revision: number;
}

/** Another worker wrote the entry since it was read. */
export class StaleStateError extends Error {
  constructor(key: string, options?: ErrorOptions) {
    super(`state of ${key} was changed by another worker`, options);
    this.name = "StaleStateError";
  }
}

export interface OrderStateStore<S> {
  load(orderId: string): Promise<Loaded<S>>;
  /** Compare-and-set on `revision` (0: the entry must not exist); resolves to the new revision. */
  save(orderId: string, stored: Stored<S>, revision: number): Promise<number>;
}

/** A store of `Stored<S>` JSON entries keyed by order id. */
export function createOrderStateStore<S>(kv: KV): OrderStateStore<S> {
  return {
    async load(orderId) {
      const entry = await kv.get(orderId);
      if (!entry || entry.operation !== "PUT") return { stored: null, revision: entry?.revision ?? 0 };
      return { stored: entry.json<Stored<S>>(), revision: entry.revision };
    },
    async save(orderId, stored, revision) {
      const body = JSON.stringify(stored);
      try {
        // One round trip either way (kv.create reads the entry back before it reports a conflict).
        return await kv.put(orderId, body, { previousSeq: revision });
      } catch (err) {
        if (isWrongLastSequence(err)) {
          throw new StaleStateError(orderId, { cause: err });
        }
        throw err;
      }
    },
  };
}

/** A service's reaction to an order's events: a pure fold, a pure decision, and the effects. */
export interface OrderProcess<S, C> {
  initialState(): S;
  evolve(state: S, event: OrderEvent, delivery: Delivery): S;
  /** The commands `event` calls for, given the state before it. Pure. */
  decide(state: S, event: OrderEvent): C[];
  /**
   * Carries one command out. Must be idempotent: a failed event is handled again in full.
   * `delivery.trace` is the trace context to publish under.
   */
  perform(command: C, event: OrderEvent, delivery: Delivery): Promise<void>;
  /** Told once per applied event, after its effects (metrics); not on skipped redeliveries. */
  applied?(before: S, event: OrderEvent): void;
}

export interface StatefulHandlerOptions {
  /** Orders whose last written state is kept in memory (least recently written are dropped). */
  cacheSize?: number;
}

/** Enough for every order in flight at a few thousand orders/s; an entry is a few hundred bytes. */
export const DEFAULT_STATE_CACHE_SIZE = 4_096;

/** What an order's entry is assumed to be before its opening event. */
const NOTHING_STORED: Loaded<never> = { stored: null, revision: 0 };

interface Remembered<S> extends Loaded<S> {
  /** The delivery streak during which it was written. */
  streak: string;
}

/** Wraps an OrderProcess into a handler that applies each event at most once, in stream order. */
export function statefulHandler<S, C>(
  process: OrderProcess<S, C>,
  store: OrderStateStore<S>,
  opts: StatefulHandlerOptions = {},
): EventHandler {
  const memory = new BoundedMap<string, Remembered<S>>(opts.cacheSize ?? DEFAULT_STATE_CACHE_SIZE);
  const remember = (orderId: string, loaded: Loaded<S>, streak: string | null) => {
    if (streak === null) memory.delete(orderId);
    else memory.set(orderId, { ...loaded, streak });
  };
  const apply = async (event: OrderEvent, delivery: Delivery, current: Loaded<S>, assumed: boolean): Promise<void> => {
    const orderId = event.orderId;
    const { stored, revision } = current;
    if (stored && delivery.seq <= stored.lastSeq) {
      remember(orderId, current, delivery.streak);
      return;
    }
    const before = stored?.state ?? process.initialState();
    for (const command of process.decide(before, event)) await process.perform(command, event, delivery);
    const next = { state: process.evolve(before, event, delivery), lastSeq: delivery.seq };
    let saved: number;
    try {
      saved = await store.save(orderId, next, revision);
    } catch (err) {
      if (!(err instanceof StaleStateError)) throw err;
      const again = await store.load(orderId);
      // Someone else applied it (a redelivery raced a stalled worker, a replay): fine if they got this far.
      if ((again.stored?.lastSeq ?? 0) >= delivery.seq) return remember(orderId, again, delivery.streak);
      // The entry was assumed absent and is not (e.g. the marker a purge leaves): apply on what it holds.
      if (assumed) return apply(event, delivery, again, false);
      throw err;
    }
    remember(orderId, { stored: next, revision: saved }, delivery.streak);
    process.applied?.(before, event);
  };
  return async (event, delivery) => {
    const orderId = event.orderId;
    const known = memory.get(orderId);
    memory.delete(orderId);
    // A skip is always decided on the entry as stored (the bucket may have been purged for a replay).
    if (known && delivery.streak !== null && known.streak === delivery.streak && delivery.seq > (known.stored?.lastSeq ?? 0)) {
      return apply(event, delivery, known, false);
    }
    // The state before an order's opening event is the initial one, whatever is stored. When that
    // calls for no effect, the read is left out: the save is a create, which fails if an entry
    // exists (a replay, a redelivery), and only then is the entry read. With an effect (payment's
    // charge), the entry is read first, so a replay never repeats an effect that was carried out.
    if (opensOrder(event) && process.decide(process.initialState(), event).length === 0) {
      return apply(event, delivery, NOTHING_STORED, true);
    }
    return apply(event, delivery, await store.load(orderId), false);
  };
}

/** A map that forgets its least recently written entry beyond `capacity`. */
class BoundedMap<K, V> {
  private readonly entries = new Map<K, V>();
  constructor(private readonly capacity: number) {}

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }
}
