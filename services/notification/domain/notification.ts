/** What a customer is told about each order event. Pure. */
import type * as v from "valibot";
import { assertNever, type NotificationSchema, type OrderEvent } from "../../../shared/events.ts";

/** Its schema (shared/events.ts) is what the AsyncAPI document shows of the NOTIFICATIONS messages. */
export type Notification = v.InferOutput<typeof NotificationSchema>;

export function messageFor(event: OrderEvent): string {
  const order = `Order ${event.orderId}`;
  switch (event.eventType) {
    case "ORDER_CREATED":
      return `${order} was received: ${event.amount.toFixed(2)} ${event.currency}.`;
    case "PAYMENT_COMPLETED":
      return `${order}: payment of ${event.amount.toFixed(2)} ${event.currency} completed.`;
    case "PAYMENT_FAILED":
      return `${order}: payment was declined.`;
    case "SHIPPING_READY":
      return `${order} is ready to ship (shipment ${event.shippingId}).`;
    case "SHIPPING_FAILED":
      return `${order} cannot be shipped: ${event.unavailableSkus.join(", ")} unavailable.`;
    case "ORDER_CANCEL_REQUESTED":
      return `${order}: we received your cancellation request.`;
    case "PAYMENT_REFUNDED":
      return `${order}: ${event.amount.toFixed(2)} ${event.currency} was refunded.`;
    case "ORDER_CANCELLED":
      return `${order} was cancelled (${event.cancelReason.toLowerCase().replaceAll("_", " ")}).`;
    default:
      return assertNever(event);
  }
}

export function notificationFor(event: OrderEvent, sentAt: Date): Notification {
  return {
    eventId: event.eventId,
    orderId: event.orderId,
    userId: event.userId,
    eventType: event.eventType,
    sentAt: sentAt.toISOString(),
    message: messageFor(event),
  };
}
