/**
 * What operators watch on JetStream, per service: each partition consumer's backlog (pending, ack
 * pending, redelivered) and the dead letters of those consumers. Plain numbers; the metrics layer
 * turns them into gauges (shared/metrics.ts), so this file stays free of any metrics library.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { DLQ_STREAM } from "./dead-letters.ts";
import { consumerName, ORDERS_STREAM, PARTITIONS, type ServiceName } from "./subjects.ts";

/**
 * Consumer infos are dear under a backlog: nats-server 2.9 counts a filtered consumer's num_pending
 * over the subjects of its whole backlog, one order id per subject here (≈ 4 ms of server CPU at
 * 10k messages behind, 58 ms at 160k; bench/consumer-info.ts). Whoever polls them waits this many
 * times as long as the last round took, which keeps polling under 2 % of the server's time however
 * deep the backlog; without one, a round takes milliseconds and the poller's own period applies.
 */
export const INFO_POLL_SPACING = 50;

/** The wait before the next round of consumer infos, given how long the last one took. */
export function nextInfoPollMs(lastRoundMs: number, minMs: number): number {
  return Math.max(minMs, lastRoundMs * INFO_POLL_SPACING);
}

export interface ConsumerBacklog {
  consumer: string;
  /** Messages of the partition not yet delivered to the consumer. */
  pending: number;
  /** Delivered, not yet acknowledged. */
  ackPending: number;
  /** Not yet acknowledged and delivered more than once. */
  redelivered: number;
}

export interface ServiceJetStreamStats {
  consumers: ConsumerBacklog[];
  /** Dead letters (`dlq.orders.<consumer>.<seq>`) whose consumer belongs to the service. */
  deadLetters: number;
}

/** Reads the service's 16 consumer infos and its dead-letter count (one stream info). */
export async function readJetStreamStats(jsm: JetStreamManager, service: ServiceName): Promise<ServiceJetStreamStats> {
  const names = Array.from({ length: PARTITIONS }, (_, p) => consumerName(service, p));
  const [infos, deadLetters] = await Promise.all([
    Promise.all(names.map((name) => jsm.consumers.info(ORDERS_STREAM, name))),
    countDeadLetters(jsm, service),
  ]);
  return {
    consumers: infos.map((info) => ({
      consumer: info.name,
      pending: info.num_pending,
      ackPending: info.num_ack_pending,
      redelivered: info.num_redelivered,
    })),
    deadLetters,
  };
}

/** Dead letters of the service's consumers: per-subject counts of `dlq.orders.<service>-pNN.*`. */
export async function countDeadLetters(jsm: JetStreamManager, service: ServiceName): Promise<number> {
  const info = await jsm.streams.info(DLQ_STREAM, { subjects_filter: "dlq.orders.>" });
  const prefix = `dlq.orders.${service}-p`;
  let count = 0;
  for (const [subject, n] of Object.entries(info.state.subjects ?? {})) if (subject.startsWith(prefix)) count += n;
  return count;
}
