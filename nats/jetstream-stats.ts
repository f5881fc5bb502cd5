/**
 * What operators watch on JetStream, per service: each partition consumer's backlog (pending, ack
 * pending, redelivered) as the instance sees it, and the dead letters of those consumers. Plain
 * numbers; the metrics layer turns them into gauges (shared/metrics.ts), so this file stays free
 * of any metrics library.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { DLQ_STREAM } from "./dead-letters.ts";
import { ORDERS_STREAM, type ServiceName } from "./subjects.ts";

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
  /** Messages of the partition not yet delivered to the consumer (num_pending). */
  pending: number;
  /** Delivered to this instance, not yet acknowledged. */
  ackPending: number;
  /** Of those, the ones delivered more than once. */
  redelivered: number;
}

export interface ServiceJetStreamStats {
  consumers: ConsumerBacklog[];
  /** Dead letters (`dlq.orders.<consumer>.<seq>`) whose consumer belongs to the service. */
  deadLetters: number;
}

/** A view of a consumer older than this, with work outstanding, is read from the server again. */
export const BACKLOG_STALE_MS = 5_000;

interface SeenBacklog {
  pending: number;
  /** performance.now() of the last delivery or settle seen here (or of the last read) */
  seenAt: number;
  /** performance.now() the message in flight here was delivered, or -1 */
  inFlightSince: number;
  redelivery: boolean;
}

/**
 * A service instance's view of its partition consumers' backlogs, kept from its own deliveries:
 * each one carries the consumer's num_pending (in the ack reply subject), so no consumer info is
 * needed while the instance keeps receiving. That matters on nats-server 2.9 beyond what an info
 * costs itself: an info resets a caught-up consumer's pending count, and until the count is right
 * again every delivery to it walks every subject of the stream's last block — up to 3.5 ms of
 * server CPU each (bench/caught-up-delivery.ts; BENCHMARKS.md, "Fifth session"). A consumer is read
 * from the server only when this view may hide a backlog: it had messages pending and nothing came
 * for a while (another instance took them, or the stream stalled), or a message has been in flight
 * here for a while (a stuck handler). A caught-up, idle consumer is trusted at 0: its next message
 * would be delivered to the instance that pulls it.
 */
export class PartitionBacklog {
  private readonly seen = new Map<string, SeenBacklog>();

  constructor(
    consumers: readonly string[],
    private readonly now: () => number = () => performance.now(),
  ) {
    for (const consumer of consumers) this.seen.set(consumer, { pending: 0, seenAt: now(), inFlightSince: -1, redelivery: false });
  }

  /** The consumer's num_pending from its info (at bind, or read for `stale()`). */
  read(consumer: string, pending: number): void {
    const s = this.entry(consumer);
    s.pending = pending;
    s.seenAt = this.now();
  }

  /** A delivery: `pending` is the count the server sent with it (messages of the partition behind it). */
  delivered(consumer: string, pending: number, deliveryCount: number): void {
    const s = this.entry(consumer);
    s.pending = pending;
    s.seenAt = s.inFlightSince = this.now();
    s.redelivery = deliveryCount > 1;
  }

  /** The delivery was acked, handed back or given up. */
  settled(consumer: string): void {
    const s = this.entry(consumer);
    s.seenAt = this.now();
    s.inFlightSince = -1;
    s.redelivery = false;
  }

  /** Consumers whose backlog this view may hide (see the class comment). */
  stale(): string[] {
    const now = this.now();
    const stale: string[] = [];
    for (const [consumer, s] of this.seen) {
      const quietPending = s.pending > 0 && s.inFlightSince < 0 && now - s.seenAt >= BACKLOG_STALE_MS;
      const stuck = s.inFlightSince >= 0 && now - s.inFlightSince >= BACKLOG_STALE_MS;
      if (quietPending || stuck) stale.push(consumer);
    }
    return stale;
  }

  snapshot(): ConsumerBacklog[] {
    return [...this.seen].map(([consumer, s]) => ({
      consumer,
      pending: s.pending,
      ackPending: s.inFlightSince >= 0 ? 1 : 0,
      redelivered: s.inFlightSince >= 0 && s.redelivery ? 1 : 0,
    }));
  }

  private entry(consumer: string): SeenBacklog {
    let s = this.seen.get(consumer);
    if (!s) this.seen.set(consumer, (s = { pending: 0, seenAt: this.now(), inFlightSince: -1, redelivery: false }));
    return s;
  }
}

/**
 * The gauges' numbers: the instance's view of its consumers (consumer infos only for the ones it
 * may be wrong about) and its dead-letter count (one stream info).
 */
export async function readJetStreamStats(jsm: JetStreamManager, service: ServiceName, backlog: PartitionBacklog): Promise<ServiceJetStreamStats> {
  const [, deadLetters] = await Promise.all([
    Promise.all(backlog.stale().map(async (name) => backlog.read(name, (await jsm.consumers.info(ORDERS_STREAM, name)).num_pending))),
    countDeadLetters(jsm, service),
  ]);
  return { consumers: backlog.snapshot(), deadLetters };
}

/** Dead letters of the service's consumers: per-subject counts of `dlq.orders.<service>-pNN.*`. */
export async function countDeadLetters(jsm: JetStreamManager, service: ServiceName): Promise<number> {
  const info = await jsm.streams.info(DLQ_STREAM, { subjects_filter: "dlq.orders.>" });
  const prefix = `dlq.orders.${service}-p`;
  let count = 0;
  for (const [subject, n] of Object.entries(info.state.subjects ?? {})) if (subject.startsWith(prefix)) count += n;
  return count;
}
