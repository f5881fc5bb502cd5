/**
 * Publishing an order event: at most once per (order, event type), traced, deduplicated.
 *
 * Two guards make a retried publish of the same logical event harmless:
 * - `Nats-Msg-Id` = eventId, derived from (orderId, eventType): within the duplicate window the
 *   server answers the retry with `duplicate: true` and the original sequence;
 * - `Nats-Expected-Last-Subject-Sequence: 0` on the event's own subject: after the window the server
 *   still refuses a second message for that (order, event type), whatever the redeliveries or replays.
 */
import { PubHeaders, type JetStreamManager } from "@nats-io/jetstream";
import type { JetStreamPublisher } from "./jetstream-publisher.ts";
import { isWrongLastSequence } from "./wrong-last-sequence.ts";
import { SpanKind, trace, context, type Context, type Span } from "@opentelemetry/api";
import { type EventDraft, type OrderEvent, SCHEMA_VERSION } from "../shared/events.ts";
import { deterministicUuid } from "../shared/ids.ts";
import { injectTraceRecord } from "../otel/nats-headers.ts";
import { messageHeaders } from "./message-headers.ts";
import { MessagingAttr, messagingSpanName, producerAttributes, PUBLISH_OPERATION } from "../otel/messaging-attributes.ts";
import { recordSpanError } from "../otel/span-error.ts";
import { eventSubject, Header, ORDERS_STREAM } from "./subjects.ts";
import { eventDestination, eventSubjectTemplate } from "./subject-templates.ts";
import { getOrdersMessage, toStoredEvent } from "./order-history.ts";

const tracer = trace.getTracer("orderstream.nats");
const encoder = new TextEncoder();
/** The SDK reads span options without keeping or changing them: one object for every publish. */
const PRODUCER = { kind: SpanKind.PRODUCER } as const;

export interface PublishedEvent {
  /** The event as stored: for a duplicate, the first copy (its time and trace, not the retry's). */
  event: OrderEvent;
  seq: number;
  /** True when the stream already held this event: nothing new was written. */
  duplicate: boolean;
  traceparent: string | null;
}

/** The id every copy of one logical event shares: one event of a type per order. */
export function eventIdOf(orderId: string, eventType: string): string {
  return deterministicUuid("orderstream-event", orderId, eventType);
}

/** Completes a draft with its envelope (id, time, schema version). */
export function completeEvent(draft: EventDraft, now: Date = new Date()): OrderEvent {
  return {
    ...draft,
    eventId: eventIdOf(draft.orderId, draft.eventType),
    occurredAt: now.toISOString(),
    schemaVersion: SCHEMA_VERSION,
  } as OrderEvent;
}

export interface EventPublisher {
  /**
   * `parent`: the trace context the PRODUCER span belongs under (the HTTP request's or the
   * delivery's, `Delivery.trace`); without it, the active context (a new trace unless a context
   * manager keeps one).
   */
  publish(draft: EventDraft, parent?: Context): Promise<PublishedEvent>;
}

/** How a publish ended: written, already there, or failed (thrown to the caller). */
export type PublishResult = "new" | "duplicate" | "error";

export interface EventPublisherOptions {
  /** Told once per publish call (the metrics hook; keeps this layer free of a metrics library). */
  onPublished?(eventType: string, result: PublishResult): void;
}

/**
 * An EventPublisher that publishes through `publisher` (nats/jetstream-publisher.ts: pipelined,
 * one reply subscription); `jsm` answers where an already-stored event sits.
 */
export function createEventPublisher(
  publisher: JetStreamPublisher,
  jsm: JetStreamManager,
  opts: EventPublisherOptions = {},
): EventPublisher {
  return guardedPublisher(publisher, jsm, opts.onPublished ?? (() => {}));
}

/** The metrics hook is called inside the publish rather than around it: one async frame less per event. */
function guardedPublisher(
  publisher: JetStreamPublisher,
  jsm: JetStreamManager,
  onPublished: (eventType: string, result: PublishResult) => void,
): EventPublisher {
  return {
    async publish(draft, parent = context.active()) {
      let span: Span | undefined;
      try {
        const event = completeEvent(draft);
        const subject = eventSubject(event.orderId, event.eventType);
        const body = encoder.encode(JSON.stringify(event));
        const template = eventSubjectTemplate(event.eventType, subject.startsWith("sites."));
        span = tracer.startSpan(messagingSpanName(PUBLISH_OPERATION.name, { template }), PRODUCER, parent);
        // Attributes only for a span that is kept: an unsampled one (tracing off) costs no more than its ids.
        if (span.isRecording()) {
          span.setAttributes(
            producerAttributes({
              destination: eventDestination(subject),
              messageId: event.eventId,
              bodySize: body.byteLength,
              stream: ORDERS_STREAM,
              orderId: event.orderId,
              eventType: event.eventType,
            }),
          );
        }
        const record = injectTraceRecord({}, trace.setSpan(parent, span));
        const traceparent = record[Header.traceparent] || null;
        let seq: number;
        try {
          record[PubHeaders.MsgIdHdr] = event.eventId;
          record[PubHeaders.ExpectedLastSubjectSequenceHdr] = "0";
          record[PubHeaders.ExpectedStreamHdr] = ORDERS_STREAM;
          const hdrs = messageHeaders(record);
          const ack = await publisher.publish(subject, body, hdrs);
          span.setAttribute(MessagingAttr.streamSequence, ack.seq);
          if (!ack.duplicate) {
            onPublished(draft.eventType, "new");
            return { event, seq: ack.seq, duplicate: false, traceparent };
          }
          seq = ack.seq;
        } catch (err) {
          if (!isWrongLastSequence(err)) throw err;
          seq = 0;
        }
        span.setAttribute(MessagingAttr.duplicate, true);
        const stored = await getOrdersMessage(jsm, seq ? { seq } : { last_by_subj: subject });
        const first = stored ? toStoredEvent(stored) : null;
        if (!first) throw new Error(`event ${event.eventType} of order ${event.orderId} is stored but cannot be read back`);
        span.setAttribute(MessagingAttr.streamSequence, first.seq);
        onPublished(draft.eventType, "duplicate");
        return { event: first.event, seq: first.seq, duplicate: true, traceparent: first.traceparent };
      } catch (err) {
        onPublished(draft.eventType, "error");
        if (span) recordSpanError(span, err);
        throw err;
      } finally {
        span?.end();
      }
    },
  };
}
