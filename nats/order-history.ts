/**
 * One order's events straight from the ORDERS stream. Every (order, event type) is its own subject
 * holding at most one message, so the whole history is one direct "last message for subject" read
 * per event type, sent together: a round trip, no consumer to create, and always up to date — which
 * is what read-your-writes and the cancel decision need.
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

/** The order's events in stream order, from `fromSeq` on. Empty for an unknown order. */
export async function readOrderEvents(jsm: JetStreamManager, orderId: string, fromSeq = 0): Promise<StoredEvent[]> {
  const messages = await Promise.all(
    EVENT_TYPES.map((type) => jsm.direct.getMessage(ORDERS_STREAM, { last_by_subj: eventSubject(orderId, type) })),
  );
  return messages
    .filter((m): m is StoredMsg => m !== null && m.seq >= fromSeq)
    .map(toStoredEvent)
    .filter((e): e is StoredEvent => e !== null)
    .sort((a, b) => a.seq - b.seq);
}
