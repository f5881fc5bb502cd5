/**
 * Stream, consumer and KV bucket definitions. Created idempotently at start-up by nats/setup.ts.
 * They need nats-server 2.11 or newer: consumers with several filters (2.10) and priority groups
 * with a pinned client (2.11).
 */
import {
  AckPolicy,
  StoreCompression,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import {
  ADVISORIES_STREAM,
  consumerFilterSubjects,
  consumerName,
  DLQ_STREAM,
  DLQ_SUBJECTS,
  maxDeliveriesAdvisorySubject,
  LANES,
  lanePartitions,
  NOTIFICATIONS_STREAM,
  NOTIFICATIONS_SUBJECTS,
  ORDERS_STREAM,
  ordersStreamSubjects,
  OWNER_GROUP,
  type ServiceName,
} from "./subjects.ts";
import type { Topology } from "../shared/config.ts";

/**
 * How long a delivered message may stay unacknowledged before the server hands it out again (the
 * rule: a message held by an instance that dies is redelivered to another within 30 s; in
 * practice the next owner takes it over sooner, see OWNER_TTL_MS).
 */
export const ACK_WAIT_MS = 30_000;
/** Attempts at handling one event before it is given up and dead-lettered. */
export const MAX_DELIVER = 8;
/**
 * Server-side redeliveries before the server gives a message up (MAX_DELIVERIES advisory). An owner
 * retries a failing event itself (MAX_DELIVER attempts, then a dead letter), so server redeliveries
 * only happen while an acknowledgement waits behind a retrying event: a backstop, kept far above that.
 */
export const SERVER_MAX_DELIVER = 50;
/**
 * How long a partition stays pinned to an owner that stopped pulling (priority_timeout), and how long
 * an instance is counted alive after its last heartbeat: together, how long a dead owner's
 * partitions wait before another instance takes them over.
 */
export const OWNER_TTL_MS = 5_000;
/**
 * Unacknowledged messages a partition consumer allows its owner: what bounds the memory an owner
 * holds under a backlog (each waiting message is a few KB once decoded). At saturation on the bench
 * machine, 128 gave the same orders/s and CPU per order as 256 and 512 (three interleaved rounds) and
 * kept the notification service at 103-105 MB against 123-140 with 512 (BENCHMARKS.md, "Settings
 * decided by measurement"). The owner acknowledges cumulatively (ack policy "all") up to the
 * oldest event not yet done, so while an event is being retried its partition runs ahead by at most
 * this many events — a few seconds at 200 orders/s — then waits for it (it is done or
 * dead-lettered within MAX_DELIVER attempts).
 */
export const MAX_ACK_PENDING = 128;
/** Window in which the server drops a second publish with the same Nats-Msg-Id. */
export const DUPLICATE_WINDOW_MS = 2 * 60_000;
/** Idempotency keys are kept at least this long (the API promises at least 24 h: docs/reference/http-api.md#post-orders). */
export const IDEMPOTENCY_TTL_MS = 25 * 60 * 60_000;

type StreamDefinition = Partial<StreamConfig> & { name: string };

/**
 * What the two business streams keep (docs/operations.md, "Sizing the store"). ORDERS is the
 * record every view is folded from: no age limit; a byte limit only when the operator sets one,
 * and then new writes are refused (discard new, a 507 to the client) rather than old history
 * silently dropped. NOTIFICATIONS is a log of what was sent: it may age out.
 */
export interface StreamLimits {
  /** ORDERS max_bytes; -1 unlimited (ORDERS_MAX_BYTES). */
  ordersMaxBytes: number;
  /** NOTIFICATIONS max_age in milliseconds; 0 keeps them forever (NOTIFICATIONS_MAX_AGE). */
  notificationsMaxAgeMs: number;
  /** Compression of both streams' blocks on disk (STREAM_COMPRESSION); default STREAM_COMPRESSION. */
  compression?: "s2" | "none";
}

/** Notifications are kept 30 days unless NOTIFICATIONS_MAX_AGE says otherwise. */
export const DEFAULT_NOTIFICATIONS_MAX_AGE_MS = 30 * 24 * 60 * 60_000;
export const DEFAULT_STREAM_LIMITS: StreamLimits = { ordersMaxBytes: -1, notificationsMaxAgeMs: DEFAULT_NOTIFICATIONS_MAX_AGE_MS };

/**
 * Compression of the business streams' blocks on disk, chosen by measurement (BENCHMARKS.md,
 * "S2 compression of the streams", bench/compression.ts).
 */
export const STREAM_COMPRESSION: StoreCompression = StoreCompression.S2;

const compressionOf = (limits: StreamLimits): StoreCompression =>
  limits.compression === "none" ? StoreCompression.None : limits.compression === "s2" ? StoreCompression.S2 : STREAM_COMPRESSION;

function fileStream(name: string, subjects: string[], description: string, replicas: number): StreamDefinition {
  return {
    name,
    description,
    subjects,
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    num_replicas: replicas,
    allow_direct: true,
  };
}

export function ordersStreamConfig(
  replicas: number,
  limits: StreamLimits = DEFAULT_STREAM_LIMITS,
  topology: Topology = { kind: "single" },
): StreamDefinition {
  const limited = limits.ordersMaxBytes > 0;
  const description =
    topology.kind === "single"
      ? "Every order event; subject orders.<partition>.<orderId>.<eventType>"
      : "Every order event; subject orders.<partition>.<orderId>.<eventType>, a site's orders sites.<site>.orders.<partition>.<orderId>.<eventType>";
  return {
    ...fileStream(ORDERS_STREAM, ordersStreamSubjects(topology), description, replicas),
    max_age: 0,
    max_bytes: limited ? limits.ordersMaxBytes : -1,
    discard: limited ? DiscardPolicy.New : DiscardPolicy.Old,
    compression: compressionOf(limits),
  };
}

export function notificationsStreamConfig(replicas: number, limits: StreamLimits = DEFAULT_STREAM_LIMITS): StreamDefinition {
  return {
    ...fileStream(
      NOTIFICATIONS_STREAM,
      [NOTIFICATIONS_SUBJECTS],
      "Notifications sent to users; subject notifications.<userId>.<orderId>.<eventType>",
      replicas,
    ),
    max_age: nanos(Math.max(0, limits.notificationsMaxAgeMs)),
    compression: compressionOf(limits),
  };
}

/** Dead letters and retry requests (nats/dead-letter-write.ts): a retried write within 10 minutes is dropped. */
export function deadLetterStreamConfig(replicas: number): StreamDefinition {
  return {
    name: DLQ_STREAM,
    description: "Dead letters of the ORDERS consumers, and retry requests",
    subjects: [DLQ_SUBJECTS],
    storage: StorageType.File,
    num_replicas: replicas,
    allow_direct: true,
    duplicate_window: nanos(10 * 60_000),
  };
}

/** The MAX_DELIVERIES advisories not yet turned into dead letters (nats/dead-letter-advisories.ts), kept a week. */
export function advisoriesStreamConfig(replicas: number): StreamDefinition {
  return {
    name: ADVISORIES_STREAM,
    description: "MAX_DELIVERIES advisories of the ORDERS consumers, turned into dead letters",
    subjects: [maxDeliveriesAdvisorySubject()],
    storage: StorageType.File,
    num_replicas: replicas,
    max_age: nanos(7 * 24 * 3600_000),
  };
}

/** The fields of a stream's config that a start-up brings up to date in place (nats/setup.ts). */
export const UPDATABLE_STREAM_LIMITS = ["max_age", "max_bytes", "discard", "compression"] as const;

export type PartitionConsumerConfig = Partial<ConsumerConfig> & { durable_name: string };

/**
 * One durable pull consumer per service and lane (the partitions p with p mod LANES = lane), filtered
 * to the event types the service acts on, and pinned to one puller at a time (priority group,
 * `pinned_client`): the lane's owner, which handles its orders' events in stream order and
 * acknowledges cumulatively. Another instance is pinned only once the owner stops pulling for
 * OWNER_TTL_MS or hands the lane over.
 */
export function partitionConsumerConfig(
  service: ServiceName,
  lane: number,
  topology: Topology = { kind: "single" },
  lanes = LANES,
): PartitionConsumerConfig {
  return {
    durable_name: consumerName(service, lane),
    description: `${service} service, lane ${lane} of ${lanes} (partitions ${lanePartitions(lane, lanes).join(", ")})`,
    filter_subjects: consumerFilterSubjects(service, lane, topology, lanes),
    ack_policy: AckPolicy.All,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ACK_WAIT_MS),
    max_deliver: SERVER_MAX_DELIVER,
    max_ack_pending: MAX_ACK_PENDING,
    max_waiting: 512,
    priority_groups: [OWNER_GROUP],
    // PriorityPolicy.PinnedClient (the enum is exported as a type only by @nats-io/jetstream 3.4).
    priority_policy: "pinned_client",
    priority_timeout: nanos(OWNER_TTL_MS),
  };
}

/**
 * Whether an existing consumer has the shape this version needs (ack policy, pinning, filters):
 * one made by an earlier version (every instance pulling, one message in flight) is replaced.
 */
export function hasPartitionShape(existing: Partial<ConsumerConfig>, wanted: PartitionConsumerConfig): boolean {
  const filters = existing.filter_subjects?.length ? existing.filter_subjects : existing.filter_subject ? [existing.filter_subject] : [];
  return (
    existing.ack_policy === wanted.ack_policy &&
    existing.priority_policy === wanted.priority_policy &&
    JSON.stringify(existing.priority_groups ?? []) === JSON.stringify(wanted.priority_groups) &&
    JSON.stringify([...filters].sort()) === JSON.stringify([...(wanted.filter_subjects ?? [])].sort())
  );
}

export const bucketOptions = {
  idempotency: { history: 1, storage: StorageType.File, ttl: IDEMPOTENCY_TTL_MS },
  /**
   * Heartbeats: an entry older than a minute is garbage (instances count one dead after
   * OWNER_TTL_MS). File storage, so the bucket outlives a server restart like the streams.
   */
  instances: { history: 1, storage: StorageType.File, ttl: 60_000 },
  /**
   * Crash suspects: a key lives while its message is handled in isolation by a new owner; one
   * left behind means that owner died. A week is far beyond any crash loop; then it is garbage.
   */
  crashSuspects: { history: 1, storage: StorageType.File, ttl: 7 * 24 * 60 * 60_000 },
  /** Loyalty accounts: kept until deleted (points do not expire), file storage like the events. */
  loyaltyPoints: { history: 1, storage: StorageType.File },
} as const;
