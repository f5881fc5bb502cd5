/**
 * A service's side of `dlq retry`: its instances share one durable on `dlq.retry.<service>.>`; a
 * request names the consumer and the ORDERS sequence, the original message is read back from ORDERS
 * and handed to the same handler (the per-order fence still applies: an event the service already
 * applied is not applied twice). On success the dead letter is removed.
 */
import { startConsumerSpan } from "./consumer-span.ts";
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { SpanStatusCode } from "@opentelemetry/api";
import { traceFields, type Logger } from "../shared/logger.ts";
import { MessagingAttr } from "../otel/messaging-attributes.ts";
import { DLQ_STREAM, ordersMessage, removeDeadLetter } from "./dead-letters.ts";
import { decodeEvent, type EventHandler } from "./partitioned-consumer.ts";
import { ensureConsumer } from "./setup.ts";
import { parseEventSubject, type ServiceName } from "./subjects.ts";


export async function startRetryProcessor(opts: {
  js: JetStreamClient;
  jsm: JetStreamManager;
  service: ServiceName;
  handler: EventHandler;
  log: Logger;
}): Promise<() => Promise<void>> {
  const durable = `${opts.service}-dlq-retry`;
  await ensureConsumer(opts.jsm, DLQ_STREAM, {
    durable_name: durable,
    filter_subject: `dlq.retry.${opts.service}.>`,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.New,
    ack_wait: nanos(30_000),
    max_deliver: 3,
  });
  const consumer = await opts.js.consumers.get(DLQ_STREAM, durable);
  const messages = await consumer.consume({ max_messages: 1 });
  const loop = (async () => {
    for await (const request of messages) {
      const [, , , consumerName, seqToken] = request.subject.split(".");
      const seq = Number(seqToken);
      const original = await ordersMessage(opts.jsm, seq).catch(() => null);
      const orderId = original ? parseEventSubject(original.subject)?.orderId : undefined;
      const log = opts.log.child({ seq, consumer: consumerName, orderId, retry: true });
      if (!original || !consumerName) {
        log.error("retry asked for a message the ORDERS stream no longer holds");
        request.term();
        continue;
      }
      const event = decodeEvent({ data: original.data, subject: original.subject });
      if (typeof event === "string") {
        log.error({ reason: event }, "retried message is still not a valid event");
        request.term();
        continue;
      }
      const { span, context: spanContext } = startConsumerSpan(
        {
          subject: original.subject,
          seq,
          consumer: consumerName,
          deliveryCount: request.info.deliveryCount,
          bodySize: original.data.byteLength,
          headers: original.header,
        },
        { [MessagingAttr.messageId]: event.eventId, "orderstream.dlq_retry": true },
      );
      try {
        await opts.handler(event, {
          seq,
          subject: original.subject,
          consumer: consumerName,
          deliveryCount: request.info.deliveryCount,
          traceparent: original.header?.get("traceparent") || null,
          trace: spanContext,
          streak: null,
          working: () => request.working(),
        });
        await removeDeadLetter(opts.jsm, consumerName, seq);
        request.ack();
        log.info("dead letter retried successfully");
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        log.error({ err, ...traceFields(span) }, "dead letter retry failed; it stays in the DLQ");
        if (request.info.deliveryCount >= 3) request.term();
        else request.nak(1_000);
      } finally {
        span.end();
      }
    }
  })();
  return async () => {
    messages.stop();
    await loop;
  };
}
