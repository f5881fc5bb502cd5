/**
 * Dead letters of what died without a service seeing it: a consumer's max deliveries reached through
 * crashes or ack timeouts. The server's MAX_DELIVERIES advisories are kept in ORDERS_ADVISORIES
 * (nats/definitions.ts) and each one becomes a dead letter of the original ORDERS message.
 */
import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { Logger } from "../shared/logger.ts";
import { writeDeadLetter } from "./dead-letter-write.ts";
import { startDurableLoop } from "./durable-loop.ts";
import { ordersMessage } from "./order-history.ts";
import { ADVISORIES_STREAM, ADVISORY_CONSUMER, parseEventSubject } from "./subjects.ts";

interface MaxDeliveriesAdvisory {
  stream: string;
  consumer: string;
  stream_seq: number;
  deliveries: number;
}

/**
 * Turns MAX_DELIVERIES advisories into dead letters. Every instance of every service runs it on one
 * shared durable, so some live instance always does.
 */
export async function startAdvisoryProcessor(js: JetStreamClient, jsm: JetStreamManager, log: Logger): Promise<() => Promise<void>> {
  return startDurableLoop({
    js,
    jsm,
    stream: ADVISORIES_STREAM,
    config: {
      durable_name: ADVISORY_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(30_000),
      max_deliver: 10,
    },
    batch: 16,
    log,
    async handle(m) {
      try {
        const advisory = m.json<MaxDeliveriesAdvisory>();
        const original = await ordersMessage(jsm, advisory.stream_seq);
        if (original) {
          await writeDeadLetter(js, {
            subject: original.subject,
            streamSeq: advisory.stream_seq,
            data: original.data,
            headers: original.header,
            consumer: advisory.consumer,
            reason: `no handler verdict after ${advisory.deliveries} deliveries (instances crashed or timed out)`,
            deliveries: advisory.deliveries,
            source: "advisory",
          });
          log.error(
            { seq: advisory.stream_seq, consumer: advisory.consumer, orderId: parseEventSubject(original.subject)?.orderId },
            "message dead-lettered after max deliveries",
          );
        }
        m.ack();
        return true;
      } catch (err) {
        log.warn({ err }, "could not process a max-deliveries advisory; will retry");
        m.nak(1_000);
        return false;
      }
    },
  });
}
