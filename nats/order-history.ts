/**
 * One order's events straight from the ORDERS stream. Every (order, event type) is its own subject
 * holding at most one message, so the whole history is one "last message for subject" read per
 * event type (a direct get, or the leader's on a replicated stream), sent together: a round trip,
 * no consumer to create, and always up to date — which is what read-your-writes and the cancel
 * decision need.
 */
import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { EVENT_TYPES, parseEvent, type OrderEvent } from "../shared/events.ts";
import { eventSubject, ORDERS_STREAM } from "./subjects.ts";

export interface StoredEvent {
  seq: number;
  subject: string;
  time: string;
  event: OrderEvent;
  traceparent: string | null;
}

/** The trace id inside a W3C traceparent (`00-<trace-id>-<span-id>-<flags>`). */
export function traceIdOf(traceparent: string | null | undefined): string | null {
  const id = traceparent?.split("-")[1];
  return id && /^[0-9a-f]{32}$/.test(id) ? id : null;
}

export function toStoredEvent(msg: StoredMsg): StoredEvent | null {
  const parsed = parseEvent(msg.json());
  if (!parsed.ok) return null;
  return {
    seq: msg.seq,
    subject: msg.subject,
    time: msg.time.toISOString(),
    event: parsed.event,
    traceparent: msg.header?.get("traceparent") || null,
  };
}

/**
 * One ORDERS message, read consistently. A direct get is the cheapest read, but on a replicated
 * stream any replica answers it, also a follower that does not hold the event just acknowledged yet
 * (the cluster test saw a 404 right after a 201). So a replicated ORDERS is read through its leader
 * (~0.1 ms more per read); whether it is replicated is looked up once per connection.
 */
export async function getOrdersMessage(
  jsm: JetStreamManager,
  query: { seq: number } | { last_by_subj: string },
): Promise<StoredMsg | null> {
  return (await ordersReplicated(jsm)) ? jsm.streams.getMessage(ORDERS_STREAM, query) : jsm.direct.getMessage(ORDERS_STREAM, query);
}

const replicatedByManager = new WeakMap<JetStreamManager, Promise<boolean>>();

function ordersReplicated(jsm: JetStreamManager): Promise<boolean> {
  let known = replicatedByManager.get(jsm);
  if (!known) {
    known = jsm.streams.info(ORDERS_STREAM).then((info) => (info.config.num_replicas ?? 1) > 1);
    replicatedByManager.set(jsm, known);
    // A failed lookup (e.g. NATS away) is asked again next time.
    known.catch(() => replicatedByManager.delete(jsm));
  }
  return known;
}

/** The order's events in stream order, from `fromSeq` on. Empty for an unknown order. */
export async function readOrderEvents(jsm: JetStreamManager, orderId: string, fromSeq = 0): Promise<StoredEvent[]> {
  const messages = await Promise.all(
    EVENT_TYPES.map((type) => getOrdersMessage(jsm, { last_by_subj: eventSubject(orderId, type) })),
  );
  return messages
    .filter((m): m is StoredMsg => m !== null && m.seq >= fromSeq)
    .map(toStoredEvent)
    .filter((e): e is StoredEvent => e !== null)
    .sort((a, b) => a.seq - b.seq);
}
