/**
 * Messaging semantic-convention attribute names. They are "incubating" in
 * @opentelemetry/semantic-conventions, whose docs advise copying such names rather than importing
 * the unstable entry point. `messaging.system` is deprecated for `messaging.system.name` and `nats`
 * is not a listed value yet, so both names are emitted.
 */
export const MessagingAttr = {
  system: "messaging.system",
  systemName: "messaging.system.name",
  destinationName: "messaging.destination.name",
  operationType: "messaging.operation.type",
  operationName: "messaging.operation.name",
  messageId: "messaging.message.id",
  bodySize: "messaging.message.body.size",
  consumerGroup: "messaging.consumer.group.name",
  /** Not in the conventions: JetStream's own facts, namespaced like the Kafka/Rabbit ones. */
  streamSequence: "messaging.nats.stream.sequence",
  deliveryCount: "messaging.nats.delivery_count",
  streamName: "messaging.nats.stream.name",
} as const;

/** Order id on every span of an order, so a trace search by order id works. */
export const ORDER_ID_ATTR = "orderstream.order_id";
export const EVENT_TYPE_ATTR = "orderstream.event_type";
export const MESSAGING_SYSTEM = "nats";
