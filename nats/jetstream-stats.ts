/**
 * What operators watch on JetStream, per service: each partition consumer's backlog (pending, ack
 * pending, redelivered) as the server counts it, and the dead letters of those consumers. Plain
 * numbers; the metrics layer turns them into gauges (host/metrics.ts), so this file stays free
 * of any metrics library. A consumer info is cheap on current servers (kept counters, ≈ 0.25 ms).
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import {
  consumerNames,
  consumerOfDeadLetter,
  DEAD_LETTERS_FILTER,
  DLQ_STREAM,
  ORDERS_STREAM,
  serviceOfConsumer,
  type ServiceName,
} from "./subjects.ts";

export interface ConsumerBacklog {
  consumer: string;
  /** Messages of the partition not yet delivered (num_pending). */
  pending: number;
  /** Delivered and not yet acknowledged (num_ack_pending). */
  ackPending: number;
  /** Of those, the ones delivered more than once (num_redelivered). */
  redelivered: number;
}

export interface ServiceJetStreamStats {
  consumers: ConsumerBacklog[];
  /** Dead letters (`dlq.orders.<consumer>.<seq>`) whose consumer belongs to the service. */
  deadLetters: number;
}

/** The gauges' numbers: one info per partition consumer of the service, and one stream info. */
export async function readJetStreamStats(jsm: JetStreamManager, service: ServiceName, lanes?: number): Promise<ServiceJetStreamStats> {
  const [consumers, deadLetters] = await Promise.all([
    Promise.all(
      consumerNames(service, lanes).map(async (consumer) => {
        const info = await jsm.consumers.info(ORDERS_STREAM, consumer);
        return { consumer, pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
      }),
    ),
    countDeadLetters(jsm, service),
  ]);
  return { consumers, deadLetters };
}

/** Dead letters of the service's consumers: per-subject counts of `dlq.orders.<service>-lane<k>.*` (and `-pNN` of dead letters from before lanes). */
export async function countDeadLetters(jsm: JetStreamManager, service: ServiceName): Promise<number> {
  const info = await jsm.streams.info(DLQ_STREAM, { subjects_filter: DEAD_LETTERS_FILTER });
  let count = 0;
  for (const [subject, n] of Object.entries(info.state.subjects ?? {})) {
    const consumer = consumerOfDeadLetter(subject);
    if (consumer !== null && serviceOfConsumer(consumer) === service) count += n;
  }
  return count;
}
