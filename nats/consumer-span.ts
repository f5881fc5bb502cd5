/**
 * The CONSUMER span of one delivered ORDERS message, `process orders.{partition}.{orderId}.<TYPE>`:
 * a child of the producer's span (read from the message's trace headers), so an order's trace is
 * one tree — the conventions allow the creation context as parent for single-message processing —
 * and linked to it as they prefer; with the messaging attributes (otel/messaging-attributes.ts).
 */
import { SpanKind, trace, type Context, type Span } from "@opentelemetry/api";
import type { MsgHdrs } from "@nats-io/transport-node";
import { extractTraceContext } from "../otel/nats-headers.ts";
import { consumerAttributes, messagingSpanName, PROCESS_OPERATION } from "../otel/messaging-attributes.ts";
import { ORDERS_STREAM, parseEventSubject, type EventSubject } from "./subjects.ts";
import { eventDestination, eventSubjectTemplate } from "./subject-templates.ts";

const tracer = trace.getTracer("orderstream.nats");

export interface ConsumedMessage {
  subject: string;
  seq: number;
  consumer: string;
  deliveryCount: number;
  bodySize: number;
  headers: MsgHdrs | undefined;
  /** The subject's tokens, when the caller has parsed it already. */
  parsedSubject?: EventSubject | null;
}

/** Starts the span; `context` is the context to run the handler in. */
export function startConsumerSpan(
  msg: ConsumedMessage,
  extra?: Record<string, string | number | boolean>,
): { span: Span; context: Context } {
  const parentContext = extractTraceContext(msg.headers);
  const producer = trace.getSpanContext(parentContext);
  const parsed = msg.parsedSubject === undefined ? parseEventSubject(msg.subject) : msg.parsedSubject;
  const template = parsed ? eventSubjectTemplate(parsed.eventType, msg.subject.startsWith("sites.")) : null;
  const span = tracer.startSpan(
    messagingSpanName(PROCESS_OPERATION.name, { template }),
    { kind: SpanKind.CONSUMER, links: producer ? [{ context: producer }] : [] },
    parentContext,
  );
  // Attributes only for a span that is kept: an unsampled one (tracing off) costs no more than its ids.
  if (span.isRecording()) {
    const destination = eventDestination(msg.subject, parsed);
    span.setAttributes({
      ...consumerAttributes({
        destination,
        consumerGroup: msg.consumer,
        bodySize: msg.bodySize,
        stream: ORDERS_STREAM,
        streamSequence: msg.seq,
        deliveryCount: msg.deliveryCount,
        eventType: parsed?.eventType ?? "unknown",
        ...(parsed ? { orderId: parsed.orderId } : {}),
      }),
      ...extra,
    });
  }
  return { span, context: trace.setSpan(parentContext, span) };
}
