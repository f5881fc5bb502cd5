/**
 * Stream, consumer and KV bucket definitions. Created idempotently at start-up by nats/setup.ts;
 * every option here works on nats-server 2.9 (no filter_subjects arrays, metadata or priority groups).
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import {
  consumerName,
  NOTIFICATIONS_STREAM,
  NOTIFICATIONS_SUBJECTS,
  ORDERS_STREAM,
  ORDERS_SUBJECTS,
  partitionSubjectFilter,
  type ServiceName,
} from "./subjects.ts";

/** How long a delivered message may stay unacked before another instance gets it (contract: 30 s). */
export const ACK_WAIT_MS = 30_000;
/** Deliveries before a message is given up and dead-lettered. */
export const MAX_DELIVER = 8;
/** Window in which the server drops a second publish with the same Nats-Msg-Id. */
export const DUPLICATE_WINDOW_MS = 2 * 60_000;
/** Idempotency keys are kept at least this long (contract: at least 24 h). */
export const IDEMPOTENCY_TTL_MS = 25 * 60 * 60_000;

type StreamDefinition = Partial<StreamConfig> & { name: string };

function fileStream(name: string, subject: string, description: string, replicas: number): StreamDefinition {
  return {
    name,
    description,
    subjects: [subject],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    num_replicas: replicas,
    allow_direct: true,
  };
}

export function ordersStreamConfig(replicas: number): StreamDefinition {
  return fileStream(ORDERS_STREAM, ORDERS_SUBJECTS, "Every order event; subject orders.<partition>.<orderId>.<eventType>", replicas);
}

export function notificationsStreamConfig(replicas: number): StreamDefinition {
  return fileStream(
    NOTIFICATIONS_STREAM,
    NOTIFICATIONS_SUBJECTS,
    "Notifications sent to users; subject notifications.<userId>.<orderId>.<eventType>",
    replicas,
  );
}

/**
 * One durable pull consumer per service and partition. `max_ack_pending: 1` is what keeps one
 * order's events in stream order across instances: the server hands out a partition's next
 * message only once the current one is acked (or its ack_wait ran out).
 */
export function partitionConsumerConfig(
  service: ServiceName,
  partition: number,
): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: consumerName(service, partition),
    description: `${service} service, partition ${partition}`,
    filter_subject: partitionSubjectFilter(partition),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ACK_WAIT_MS),
    max_deliver: MAX_DELIVER,
    max_ack_pending: 1,
    max_waiting: 512,
  };
}

export const bucketOptions = {
  state: { history: 1, storage: StorageType.File },
  idempotency: { history: 1, storage: StorageType.File, ttl: IDEMPOTENCY_TTL_MS },
} as const;
