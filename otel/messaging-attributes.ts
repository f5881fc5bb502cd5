/**
 * The messaging spans' names and attributes, after the OpenTelemetry messaging conventions of
 * semantic-conventions v1.45.0 (the version @opentelemetry/semantic-conventions 1.45.0 carries;
 * docs/operations.md, "Span conventions", lists every span and attribute).
 *
 * The names are "incubating" there, and its README advises copying such names rather than importing
 * the unstable entry point at run time, hence the constants below. In v1.45.0 `messaging.system`
 * is deprecated for `messaging.system.name`, so only the latter is emitted; its listed values do not
 * include NATS, and the attribute is an open enum, so the value is the system's own lower-case name
 * `nats` (the form of the listed ones), which also names the `messaging.nats.*` namespace below.
 */
import type { Attributes } from "@opentelemetry/api";

export const MessagingAttr = {
  systemName: "messaging.system.name",
  destinationName: "messaging.destination.name",
  destinationTemplate: "messaging.destination.template",
  partitionId: "messaging.destination.partition.id",
  operationType: "messaging.operation.type",
  operationName: "messaging.operation.name",
  messageId: "messaging.message.id",
  bodySize: "messaging.message.body.size",
  consumerGroup: "messaging.consumer.group.name",
  /** Not in the conventions: JetStream's own facts, in the system's namespace as the conventions ask. */
  streamSequence: "messaging.nats.stream.sequence",
  deliveryCount: "messaging.nats.delivery_count",
  streamName: "messaging.nats.stream.name",
  duplicate: "messaging.nats.duplicate",
} as const;

/** Order id on every span of an order, so a trace search by order id works. */
export const ORDER_ID_ATTR = "orderstream.order_id";
export const EVENT_TYPE_ATTR = "orderstream.event_type";
export const MESSAGING_SYSTEM = "nats";

/**
 * Where a message goes: the subject (`name`, high cardinality: it holds the order id), its
 * low-cardinality `template` (null when the subject is not of a known form) and the partition.
 */
export interface MessagingDestination {
  name: string;
  template: string | null;
  partitionId?: string;
}

/**
 * `{messaging.operation.name} {destination}`, the destination being the template: never the
 * subject itself, whose order id would make every order's span name unique. Without a template the
 * conventions say to leave the destination out.
 *
 * @example messagingSpanName("publish", { name: "orders.3.x.ORDER_CREATED", template: "orders.{partition}.{orderId}.ORDER_CREATED" })
 *   // "publish orders.{partition}.{orderId}.ORDER_CREATED"
 */
export function messagingSpanName(
  operationName: string,
  destination: Pick<MessagingDestination, "template"> & Partial<MessagingDestination>,
): string {
  const template = destination.template;
  if (!template) return operationName;
  // Made once per (operation, template): a name per message would be a string per message.
  let names = spanNames.get(operationName);
  if (!names) spanNames.set(operationName, (names = new Map()));
  let name = names.get(template);
  if (name === undefined) {
    name = `${operationName} ${template}`;
    // Templates are few by design; past the bound (a caller passing subjects) nothing more is kept.
    if (names.size < MAX_SPAN_NAMES) names.set(template, name);
  }
  return name;
}

const spanNames = new Map<string, Map<string, string>>();
const MAX_SPAN_NAMES = 64;

function destinationAttributes(d: MessagingDestination): Attributes {
  return {
    [MessagingAttr.destinationName]: d.name,
    ...(d.template ? { [MessagingAttr.destinationTemplate]: d.template } : {}),
    ...(d.partitionId !== undefined ? { [MessagingAttr.partitionId]: d.partitionId } : {}),
  };
}

export interface ProducerSpanFacts {
  destination: MessagingDestination;
  messageId: string;
  bodySize: number;
  stream: string;
  orderId: string;
  eventType: string;
}

/** The JetStream publish: operation type `send`, named `publish` as the NATS API names it. */
export const PUBLISH_OPERATION = { type: "send", name: "publish" } as const;
/** A delivered message handed to its handler. */
export const PROCESS_OPERATION = { type: "process", name: "process" } as const;

/** Attributes of the PRODUCER span of one publish. */
export function producerAttributes(f: ProducerSpanFacts): Attributes {
  return {
    [MessagingAttr.systemName]: MESSAGING_SYSTEM,
    [MessagingAttr.operationType]: PUBLISH_OPERATION.type,
    [MessagingAttr.operationName]: PUBLISH_OPERATION.name,
    ...destinationAttributes(f.destination),
    [MessagingAttr.messageId]: f.messageId,
    [MessagingAttr.bodySize]: f.bodySize,
    [MessagingAttr.streamName]: f.stream,
    [ORDER_ID_ATTR]: f.orderId,
    [EVENT_TYPE_ATTR]: f.eventType,
  };
}

export interface ConsumerSpanFacts {
  destination: MessagingDestination;
  consumerGroup: string;
  bodySize: number;
  stream: string;
  streamSequence: number;
  deliveryCount: number;
  eventType: string;
  orderId?: string;
}

/** Attributes of the CONSUMER (`process`) span of one delivery. */
export function consumerAttributes(f: ConsumerSpanFacts): Attributes {
  return {
    [MessagingAttr.systemName]: MESSAGING_SYSTEM,
    [MessagingAttr.operationType]: PROCESS_OPERATION.type,
    [MessagingAttr.operationName]: PROCESS_OPERATION.name,
    ...destinationAttributes(f.destination),
    // A JetStream durable consumer is what the conventions call a consumer group: its instances share its messages.
    [MessagingAttr.consumerGroup]: f.consumerGroup,
    [MessagingAttr.bodySize]: f.bodySize,
    [MessagingAttr.streamName]: f.stream,
    [MessagingAttr.streamSequence]: f.streamSequence,
    [MessagingAttr.deliveryCount]: f.deliveryCount,
    [EVENT_TYPE_ATTR]: f.eventType,
    ...(f.orderId !== undefined ? { [ORDER_ID_ATTR]: f.orderId } : {}),
  };
}
