/**
 * What a service's handler is given for one ORDERS message, and what it promises back: the
 * contract between the partition workers (and the dead-letter retries) and the services' cores.
 */
import type { Context } from "@opentelemetry/api";
import type { MsgHdrs } from "@nats-io/transport-node";
import { parseEvent, type OrderEvent } from "../shared/events.ts";
import { parseEventSubject, type EventSubject } from "./subjects.ts";

const decoder = new TextDecoder();

/** Facts about one delivery that handlers and logs need. */
export interface Delivery {
  seq: number;
  subject: string;
  consumer: string;
  /** Attempts at this event so far, this one included. */
  attempt: number;
  /** The producer's trace headers, as stored with the message. */
  traceparent: string | null;
  /**
   * The trace context of this delivery's CONSUMER span: events published while handling it are
   * its children when published with it (`EventPublisher.publish(draft, delivery.trace)`).
   */
  trace: Context;
  /**
   * True only when nothing can have handled this event before: its first delivery, of a message
   * appended after the partition was bound here. False for a redelivery, a replay, the backlog found
   * at start-up, a new owner's catch-up and a dead-letter retry: a handler with an effect beyond the
   * stream (a charge, a webhook) then looks at the stream before repeating it.
   */
  firstSight: boolean;
}

/** A service's handler for one partition's events, in stream order per order. */
export interface PartitionHandler {
  /** Handles one event; resolves once its effects are durable. Throws to have it retried. */
  handle(event: OrderEvent, delivery: Delivery): Promise<void>;
  /**
   * Drops what the handler remembers of the orders (all, or one): the partition changed hands, or an
   * event of the order failed, so another instance or a retry may have moved them on meanwhile.
   */
  forget(orderId?: string): void;
}

/** Makes a partition's handler: one per partition worker, and a fresh one per dead-letter retry. */
export type HandlerFactory = () => PartitionHandler;

/** One message given up: what the dead letter records. */
export interface GivenUp {
  subject: string;
  seq: number;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
  consumer: string;
  attempts: number;
  reason: string;
}

/** Writes the dead letter of a message given up; throws when it could not (the message is kept). */
export type GiveUp = (message: GivenUp) => Promise<void>;

/**
 * How one event ended: handled (ok), handed back for another attempt (retried), given up to the DLQ
 * (dead_lettered), or not a valid order event (rejected).
 */
export type HandleOutcome = "ok" | "retried" | "dead_lettered" | "rejected";

export interface HandledReport {
  /** The event's type, or "invalid" when the message is not a valid order event. */
  eventType: string;
  outcome: HandleOutcome;
  /** How long the service's handler ran; absent when it was not called. */
  handlerSeconds?: number;
}

/** base, 2×base, 4×base, … capped at 10 s (base 250 ms by default). */
export function defaultRetryDelayMs(attempt: number, baseMs = 250): number {
  return Math.min(10_000, baseMs * 2 ** Math.max(0, attempt - 1));
}

/** The event in a message, or why it is not one (bad JSON, schema, or subject mismatch). */
export function decodeEvent(
  msg: { data: Uint8Array; subject: string },
  subject: EventSubject | null = parseEventSubject(msg.subject),
): OrderEvent | string {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(msg.data));
  } catch {
    return "message body is not JSON";
  }
  const parsed = parseEvent(value);
  if (!parsed.ok) return parsed.reason;
  if (!subject || subject.orderId !== parsed.event.orderId || subject.eventType !== parsed.event.eventType) {
    return `subject ${msg.subject} does not match event ${parsed.event.eventType} of order ${parsed.event.orderId}`;
  }
  return parsed.event;
}
