/**
 * The CONSUMER span of one delivered ORDERS message: a child of the producer's span (read from the
 * message's trace headers), so an order's trace is one tree, and linked to it as the messaging
 * conventions prefer; with the messaging attributes and the order id.
 */
import { SpanKind, trace, type Context, type Span } from "@opentelemetry/api";
import type { MsgHdrs } from "@nats-io/transport-node";
import { extractTraceContext } from "../otel/nats-headers.ts";
import { EVENT_TYPE_ATTR, MESSAGING_SYSTEM, MessagingAttr, ORDER_ID_ATTR } from "../otel/messaging-attributes.ts";
import { ORDERS_STREAM, parseEventSubject, type EventSubject } from "./subjects.ts";

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
  extra: Record<string, string | number | boolean> = {},
): { span: Span; context: Context } {
  const parentContext = extractTraceContext(msg.headers);
  const producer = trace.getSpanContext(parentContext);
  const parsed = msg.parsedSubject === undefined ? parseEventSubject(msg.subject) : msg.parsedSubject;
  const eventType = parsed?.eventType ?? "unknown";
  const span = tracer.startSpan(
    `process ${eventType}`,
    { kind: SpanKind.CONSUMER, links: producer ? [{ context: producer }] : [] },
    parentContext,
  );
  // Attributes only for a span that is kept: an unsampled one (tracing off) costs no more than its ids.
  if (span.isRecording()) {
    span.setAttributes({
      [MessagingAttr.system]: MESSAGING_SYSTEM,
      [MessagingAttr.systemName]: MESSAGING_SYSTEM,
      [MessagingAttr.destinationName]: msg.subject,
      [MessagingAttr.operationType]: "process",
      [MessagingAttr.operationName]: "process",
      [MessagingAttr.consumerGroup]: msg.consumer,
      [MessagingAttr.bodySize]: msg.bodySize,
      [MessagingAttr.streamName]: ORDERS_STREAM,
      [MessagingAttr.streamSequence]: msg.seq,
      [MessagingAttr.deliveryCount]: msg.deliveryCount,
      [EVENT_TYPE_ATTR]: eventType,
      ...(parsed ? { [ORDER_ID_ATTR]: parsed.orderId } : {}),
      ...extra,
    });
  }
  return { span, context: trace.setSpan(parentContext, span) };
}
