/**
 * Per-order state of a service in a KV bucket, with the stream sequence of the last event applied.
 *
 * That sequence is the fence that makes handling idempotent and ordered: an event at or below it was
 * already applied (a redelivery, a replay, a worker that stalled past ack_wait) and is skipped; the
 * write is a compare-and-set on the entry's revision, so two workers can never both apply one event.
 */
import type { KV } from "@nats-io/kv";
import { JetStreamApiError } from "@nats-io/jetstream";
import type { OrderEvent } from "../shared/events.ts";
import type { Delivery, EventHandler } from "./partitioned-consumer.ts";

const WRONG_LAST_SEQUENCE = 10071;

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
        return revision === 0 ? await kv.create(orderId, body) : await kv.update(orderId, body, revision);
      } catch (err) {
        if (err instanceof JetStreamApiError && err.code === WRONG_LAST_SEQUENCE) {
          throw new StaleStateError(orderId, { cause: err });
        }
        throw err;
      }
    },
  };
}

/** A service's reaction to an order's events: a pure fold plus the effects of each event. */
export interface OrderProcess<S> {
  initialState(): S;
  evolve(state: S, event: OrderEvent, delivery: Delivery): S;
  /** The effects of `event` given the state before it. Must be idempotent (guarded publishes). */
  react(state: S, event: OrderEvent, delivery: Delivery): Promise<void>;
}

/** Wraps an OrderProcess into a handler that applies each event at most once, in stream order. */
export function statefulHandler<S>(process: OrderProcess<S>, store: OrderStateStore<S>): EventHandler {
  return async (event, delivery) => {
    const { stored, revision } = await store.load(event.orderId);
    if (stored && delivery.seq <= stored.lastSeq) return;
    const state = stored?.state ?? process.initialState();
    await process.react(state, event, delivery);
    const next = { state: process.evolve(state, event, delivery), lastSeq: delivery.seq };
    try {
      await store.save(event.orderId, next, revision);
    } catch (err) {
      if (!(err instanceof StaleStateError)) throw err;
      // Someone else applied it (a redelivery raced a stalled worker): fine if they got this far.
      const again = await store.load(event.orderId);
      if ((again.stored?.lastSeq ?? 0) >= delivery.seq) return;
      throw err;
    }
  };
}
