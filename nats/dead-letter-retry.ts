/**
 * A service's side of `dlq retry`: its instances share one durable on `dlq.retry.<service>.>`; a
 * request names the consumer and the ORDERS sequence, the original message is read back from ORDERS
 * and handed to a fresh handler of the service, which knows nothing of the order and so folds it
 * from the stream first (an effect already carried out is not carried out again). On success the
 * dead letter is removed.
 */
import { startConsumerSpan } from "./consumer-span.ts";
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { recordSpanError } from "../otel/span-error.ts";
import { traceFields, type Logger } from "../shared/logger.ts";
import { MessagingAttr } from "../otel/messaging-attributes.ts";
import { removeDeadLetter } from "./dead-letter-queue.ts";
import { decodeEvent, type HandlerFactory } from "./delivery.ts";
import { startDurableLoop } from "./durable-loop.ts";
import { ordersMessage } from "./order-history.ts";
import { DLQ_STREAM, dlqRetryConsumer, Header, parseEventSubject, parseRetrySubject, retryFilter, type ServiceName } from "./subjects.ts";

export async function startRetryProcessor(opts: {
  js: JetStreamClient;
  jsm: JetStreamManager;
  service: ServiceName;
  handlers: HandlerFactory;
  log: Logger;
}): Promise<() => Promise<void>> {
  return startDurableLoop({
    js: opts.js,
    jsm: opts.jsm,
    stream: DLQ_STREAM,
    config: {
      durable_name: dlqRetryConsumer(opts.service),
      filter_subject: retryFilter(opts.service),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.New,
      ack_wait: nanos(30_000),
      max_deliver: 3,
    },
    batch: 1,
    log: opts.log,
    async handle(request) {
      const target = parseRetrySubject(request.subject);
      if (!target) {
        opts.log.error({ subject: request.subject }, "a retry request on a subject that names no consumer and ORDERS sequence");
        request.term();
        return true;
      }
      const { consumer: consumerName, streamSeq: seq } = target;
      const original = await ordersMessage(opts.jsm, seq).catch(() => null);
      const parsedSubject = original ? parseEventSubject(original.subject) : null;
      const orderId = parsedSubject?.orderId;
      const log = opts.log.child({ seq, consumer: consumerName, orderId, retry: true });
      if (!original) {
        log.error("retry asked for a message the ORDERS stream no longer holds");
        request.term();
        return true;
      }
      const event = decodeEvent({ data: original.data, subject: original.subject }, parsedSubject);
      if (typeof event === "string") {
        log.error({ reason: event }, "retried message is still not a valid event");
        request.term();
        return true;
      }
      const { span, context: spanContext } = startConsumerSpan(
        {
          subject: original.subject,
          seq,
          consumer: consumerName,
          deliveryCount: request.info.deliveryCount,
          bodySize: original.data.byteLength,
          headers: original.header,
          parsedSubject,
        },
        { [MessagingAttr.messageId]: event.eventId, "orderstream.dlq_retry": true },
      );
      try {
        await opts.handlers().handle(event, {
          seq,
          subject: original.subject,
          consumer: consumerName,
          attempt: request.info.deliveryCount,
          traceparent: original.header?.get(Header.traceparent) || null,
          trace: spanContext,
          firstSight: false,
        });
        await removeDeadLetter(opts.jsm, consumerName, seq);
        request.ack();
        log.info("dead letter retried successfully");
        return true;
      } catch (err) {
        recordSpanError(span, err);
        log.error({ err, ...traceFields(span) }, "dead letter retry failed; it stays in the DLQ");
        if (request.info.deliveryCount >= 3) {
          request.term();
          return true;
        }
        request.nak(1_000);
        return false;
      } finally {
        span.end();
      }
    },
  });
}
