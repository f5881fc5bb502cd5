/**
 * Dead letters. A message that cannot be handled must neither block its partition nor be lost:
 * - the service that gives up (an invalid event, or its handler failed on the last attempt) knows
 *   why, so it writes the dead letter itself, with the reason, before it acknowledges the event;
 * - what dies without a service seeing it (a consumer's max deliveries reached through crashes or
 *   ack timeouts) is caught from the server's MAX_DELIVERIES advisories, captured durably in a stream.
 * Entries live in the ORDERS_DLQ stream as `dlq.orders.<consumer>.<ordersSeq>` (one per consumer and
 * sequence, deduplicated), holding the original body and headers plus the reason. `dlq retry`
 * publishes `dlq.retry.<service>.<consumer>.<ordersSeq>`, which that service's instances pick up
 * and hand to a fresh handler; on success the dead letter is removed.
 */
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type StoredMsg,
} from "@nats-io/jetstream";
import { headers as natsHeaders, nanos, type MsgHdrs } from "@nats-io/transport-node";
import type { Logger } from "../shared/logger.ts";
import { ensureStream } from "./setup.ts";
import { startDurableLoop } from "./durable-loop.ts";
import { ORDERS_STREAM, isServiceName, parseEventSubject, type ServiceName } from "./subjects.ts";

export const DLQ_STREAM = "ORDERS_DLQ";
export const ADVISORIES_STREAM = "ORDERS_ADVISORIES";
const MAX_DELIVERIES_ADVISORY = `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${ORDERS_STREAM}.*`;
export const ADVISORY_CONSUMER = "dlq-advisories";

export const DlqHeader = {
  reason: "Orderstream-Dlq-Reason",
  streamSeq: "Orderstream-Dlq-Stream-Seq",
  consumer: "Orderstream-Dlq-Consumer",
  subject: "Orderstream-Dlq-Subject",
  deliveries: "Orderstream-Dlq-Deliveries",
  source: "Orderstream-Dlq-Source",
} as const;

export interface DeadLetter {
  dlqSeq: number;
  streamSeq: number;
  consumer: string;
  subject: string;
  reason: string;
  deliveries: number;
  source: "service" | "advisory";
  time: string;
  body: string;
}

export function deadLetterSubject(consumer: string, streamSeq: number): string {
  return `dlq.orders.${consumer}.${streamSeq}`;
}

export function retrySubject(service: ServiceName, consumer: string, streamSeq: number): string {
  return `dlq.retry.${service}.${consumer}.${streamSeq}`;
}

/**
 * The service an ORDERS consumer belongs to: a lane's (`payment-lane3` → payment), or a
 * per-partition one's, as dead letters written before the lanes name them (`payment-p03`).
 */
export function serviceOfConsumer(consumer: string): ServiceName | null {
  const name = consumer.replace(/-(lane|p)\d+$/, "");
  return isServiceName(name) ? name : null;
}

export async function ensureDeadLetterStreams(jsm: JetStreamManager, replicas: number): Promise<void> {
  await ensureStream(jsm, {
    name: DLQ_STREAM,
    description: "Dead letters of the ORDERS consumers, and retry requests",
    subjects: ["dlq.>"],
    storage: StorageType.File,
    num_replicas: replicas,
    allow_direct: true,
    duplicate_window: nanos(10 * 60_000),
  });
  await ensureStream(jsm, {
    name: ADVISORIES_STREAM,
    description: "MAX_DELIVERIES advisories of the ORDERS consumers, turned into dead letters",
    subjects: [MAX_DELIVERIES_ADVISORY],
    storage: StorageType.File,
    num_replicas: replicas,
    max_age: nanos(7 * 24 * 3600_000),
  });
}

export interface DeadLetterInput {
  subject: string;
  streamSeq: number;
  data: Uint8Array;
  headers?: MsgHdrs;
  consumer: string;
  reason: string;
  deliveries: number;
  source: "service" | "advisory";
}

/** Writes one dead letter (idempotent per consumer and stream sequence). */
export async function writeDeadLetter(js: JetStreamClient, input: DeadLetterInput): Promise<void> {
  const h = natsHeaders();
  for (const key of input.headers?.keys() ?? []) {
    const lower = key.toLowerCase();
    // Nats-Stream-Source marks a message a stream sourced (a site's order at the hub, nats/sites.ts):
    // the server refuses it on a publish.
    if (lower !== "nats-msg-id" && !lower.startsWith("nats-expected") && lower !== "nats-stream-source")
      h.set(key, input.headers!.get(key));
  }
  h.set(DlqHeader.reason, input.reason.replace(/[\r\n]+/g, " ").slice(0, 1000));
  h.set(DlqHeader.streamSeq, String(input.streamSeq));
  h.set(DlqHeader.consumer, input.consumer);
  h.set(DlqHeader.subject, input.subject);
  h.set(DlqHeader.deliveries, String(input.deliveries));
  h.set(DlqHeader.source, input.source);
  await js.publish(deadLetterSubject(input.consumer, input.streamSeq), input.data, {
    headers: h,
    msgID: `dlq-${input.consumer}-${input.streamSeq}`,
  });
}

function toDeadLetter(m: StoredMsg): DeadLetter {
  const h = m.header;
  return {
    dlqSeq: m.seq,
    streamSeq: Number(h.get(DlqHeader.streamSeq)),
    consumer: h.get(DlqHeader.consumer),
    subject: h.get(DlqHeader.subject),
    reason: h.get(DlqHeader.reason),
    deliveries: Number(h.get(DlqHeader.deliveries)),
    source: h.get(DlqHeader.source) === "advisory" ? "advisory" : "service",
    time: m.time.toISOString(),
    body: m.string(),
  };
}

/** All dead letters, oldest first. */
export async function listDeadLetters(jsm: JetStreamManager, limit = 10_000): Promise<DeadLetter[]> {
  const info = await jsm.streams.info(DLQ_STREAM, { subjects_filter: "dlq.orders.>" });
  const subjects = Object.keys(info.state.subjects ?? {}).slice(0, limit);
  const messages = await Promise.all(subjects.map((s) => jsm.streams.getMessage(DLQ_STREAM, { last_by_subj: s })));
  return messages
    .filter((m): m is StoredMsg => m !== null)
    .map(toDeadLetter)
    .sort((a, b) => a.dlqSeq - b.dlqSeq);
}

/** Asks the owning services to handle the dead-lettered message(s) of an ORDERS sequence again. */
export async function requestRetry(js: JetStreamClient, jsm: JetStreamManager, streamSeq: number): Promise<DeadLetter[]> {
  const letters = (await listDeadLetters(jsm)).filter((d) => d.streamSeq === streamSeq);
  for (const letter of letters) {
    const service = serviceOfConsumer(letter.consumer);
    if (!service) continue;
    await js.publish(retrySubject(service, letter.consumer, streamSeq), new Uint8Array(), {
      msgID: `retry-${letter.consumer}-${streamSeq}-${letter.dlqSeq}-${Date.now()}`,
    });
  }
  return letters;
}

/** Removes a dead letter once its retry succeeded. */
export async function removeDeadLetter(jsm: JetStreamManager, consumer: string, streamSeq: number): Promise<void> {
  const m = await jsm.streams.getMessage(DLQ_STREAM, { last_by_subj: deadLetterSubject(consumer, streamSeq) });
  if (m) await jsm.streams.deleteMessage(DLQ_STREAM, m.seq, false).catch(() => false);
}

/** Reads one ORDERS message by sequence (null when it is gone). */
export async function ordersMessage(jsm: JetStreamManager, seq: number): Promise<StoredMsg | null> {
  try {
    return await jsm.streams.getMessage(ORDERS_STREAM, { seq });
  } catch (err) {
    if (err instanceof JetStreamApiError) return null;
    throw err;
  }
}

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
