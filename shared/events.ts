/**
 * The order events: one valibot schema per event type, the shared envelope, and the union.
 * Every event read off the wire goes through `parseEvent`; `msg.json()` alone only casts.
 */
import * as v from "valibot";

export const EVENT_TYPES = [
  "ORDER_CREATED",
  "PAYMENT_COMPLETED",
  "PAYMENT_FAILED",
  "SHIPPING_READY",
  "SHIPPING_FAILED",
  "ORDER_CANCEL_REQUESTED",
  "PAYMENT_REFUNDED",
  "ORDER_CANCELLED",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const CANCEL_REASONS = ["PAYMENT_FAILED", "SHIPPING_FAILED", "CUSTOMER_REQUEST"] as const;
export type CancelReason = (typeof CANCEL_REASONS)[number];

export const SCHEMA_VERSION = 1;

const Id = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/));
const Money = v.pipe(v.number(), v.finite(), v.minValue(0));
const Currency = v.pipe(v.string(), v.regex(/^[A-Z]{3}$/), v.description("ISO 4217 code of the amount's currency."));
/** A field's schema with its meaning, which the AsyncAPI document and docs/reference/events.md show. */
const described = <S extends v.GenericSchema>(schema: S, text: string) => v.pipe(schema, v.description(text));

export const OrderItemSchema = v.object({
  sku: v.pipe(v.string(), v.minLength(1), v.maxLength(64)),
  quantity: v.pipe(v.number(), v.integer(), v.minValue(1)),
  unitPrice: Money,
});
export type OrderItem = v.InferOutput<typeof OrderItemSchema>;

const envelope = {
  orderId: described(Id, "The order's id, as POST /orders answered it."),
  userId: described(Id, "The customer who placed the order."),
  eventId: v.pipe(
    v.string(),
    v.minLength(1),
    v.maxLength(128),
    v.description("Made from the order id and the event type (shared/ids.ts): one per order and type; also the Nats-Msg-Id."),
  ),
  occurredAt: v.pipe(v.string(), v.isoTimestamp(), v.description("When the service published it (ISO 8601, UTC).")),
  schemaVersion: described(v.literal(SCHEMA_VERSION), "The payload's version."),
};

export const OrderCreatedSchema = v.object({
  eventType: v.literal("ORDER_CREATED"),
  ...envelope,
  amount: described(Money, "The order's total."),
  currency: Currency,
  items: described(v.array(OrderItemSchema), "What was ordered (may be empty)."),
});
export const PaymentCompletedSchema = v.object({
  eventType: v.literal("PAYMENT_COMPLETED"),
  ...envelope,
  paymentId: described(Id, "The provider's id of the payment."),
  amount: described(Money, "The amount charged."),
  currency: Currency,
});
export const PaymentFailedSchema = v.object({
  eventType: v.literal("PAYMENT_FAILED"),
  ...envelope,
  reason: described(v.string(), "Why the provider declined, for a person."),
});
export const ShippingReadySchema = v.object({
  eventType: v.literal("SHIPPING_READY"),
  ...envelope,
  shippingId: described(Id, "The carrier's id of the shipment."),
});
export const ShippingFailedSchema = v.object({
  eventType: v.literal("SHIPPING_FAILED"),
  ...envelope,
  reason: described(v.string(), "Why the order cannot ship, for a person."),
  unavailableSkus: described(v.array(v.string()), "The order's SKUs that cannot be shipped (SHIPPING_UNAVAILABLE_SKUS)."),
});
export const OrderCancelRequestedSchema = v.object({
  eventType: v.literal("ORDER_CANCEL_REQUESTED"),
  ...envelope,
});
export const PaymentRefundedSchema = v.object({
  eventType: v.literal("PAYMENT_REFUNDED"),
  ...envelope,
  paymentId: described(Id, "The payment refunded."),
  amount: described(Money, "The amount refunded."),
  currency: Currency,
  reason: described(v.picklist(["SHIPPING_FAILED", "CUSTOMER_REQUEST"]), "What the refund makes up for."),
});
export const OrderCancelledSchema = v.object({
  eventType: v.literal("ORDER_CANCELLED"),
  ...envelope,
  cancelReason: described(v.picklist(CANCEL_REASONS), "Why the order was cancelled."),
});

export const OrderEventSchema = v.variant("eventType", [
  OrderCreatedSchema,
  PaymentCompletedSchema,
  PaymentFailedSchema,
  ShippingReadySchema,
  ShippingFailedSchema,
  OrderCancelRequestedSchema,
  PaymentRefundedSchema,
  OrderCancelledSchema,
]);

export type OrderEvent = v.InferOutput<typeof OrderEventSchema>;

const SCHEMA_BY_TYPE = new Map<string, (typeof OrderEventSchema.options)[number]>(
  OrderEventSchema.options.map((schema) => [schema.entries.eventType.literal, schema]),
);
export type EventOf<T extends EventType> = Extract<OrderEvent, { eventType: T }>;
/** An event before the envelope's generated parts (id, time, version) are filled in. */
export type EventDraft<E extends OrderEvent = OrderEvent> = E extends OrderEvent
  ? Omit<E, "eventId" | "occurredAt" | "schemaVersion">
  : never;

export type ParseResult = { ok: true; event: OrderEvent } | { ok: false; reason: string };

/** Validates a decoded JSON value as an order event; the reason names the failing paths. */
export function parseEvent(value: unknown): ParseResult {
  // The schema of the event's own type, when it names one: what the variant would pick, without
  // first trying (and making an issue for) every option listed before it. Anything else goes
  // through the variant, for its reasons.
  const type = typeof value === "object" && value !== null ? (value as { eventType?: unknown }).eventType : undefined;
  const result = v.safeParse((typeof type === "string" && SCHEMA_BY_TYPE.get(type)) || OrderEventSchema, value);
  if (result.success) return { ok: true, event: result.output };
  const reason = result.issues
    .slice(0, 5)
    .map((issue) => `${v.getDotPath(issue) ?? "(root)"}: ${issue.message}`)
    .join("; ");
  return { ok: false, reason: `invalid event: ${reason}` };
}

/**
 * Whether the event opens its order's history: every order starts with ORDER_CREATED, and per-order
 * order puts nothing of the order before it, so whoever handles it starts from the initial state.
 */
export function opensOrder(event: OrderEvent): boolean {
  return event.eventType === "ORDER_CREATED";
}

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

/** Fails compilation when a switch over a union misses a case. */
export function assertNever(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}

/**
 * What the notification service records in the NOTIFICATIONS stream, and POSTs to the webhook, for
 * each order event (services/notification/domain/notification.ts builds it).
 */
export const NotificationSchema = v.object({
  eventId: described(envelope.eventId, "The eventId of the event notified: one notification per event."),
  orderId: envelope.orderId,
  userId: envelope.userId,
  eventType: described(v.picklist(EVENT_TYPES), "The type of the event notified."),
  sentAt: v.pipe(v.string(), v.isoTimestamp(), v.description("When the notification was recorded.")),
  message: described(v.string(), "What the customer is told, in words."),
});
