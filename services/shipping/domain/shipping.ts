/**
 * Shipping's view of one order and its decision. Pure. The shipment is prepared on
 * PAYMENT_COMPLETED unless a cancel came first in the stream (see README, "The cancel race").
 */
import { assertNever, type EventDraft, type EventOf, type OrderEvent, type OrderItem } from "../../../shared/events.ts";

export interface ShippingState {
  items: OrderItem[];
  paid: boolean;
  cancelledBeforePayment: boolean;
  outcome: "NONE" | "READY" | "FAILED";
}

export const initialState = (): ShippingState => ({ items: [], paid: false, cancelledBeforePayment: false, outcome: "NONE" });

export function evolve(state: ShippingState, event: OrderEvent): ShippingState {
  switch (event.eventType) {
    case "ORDER_CREATED":
      return { ...state, items: event.items };
    case "ORDER_CANCEL_REQUESTED":
      return state.paid ? state : { ...state, cancelledBeforePayment: true };
    case "SHIPPING_READY":
      return { ...state, outcome: "READY" };
    case "SHIPPING_FAILED":
      return { ...state, outcome: "FAILED" };
    case "PAYMENT_COMPLETED":
      return { ...state, paid: true };
    case "PAYMENT_FAILED":
    case "PAYMENT_REFUNDED":
    case "ORDER_CANCELLED":
      return state;
    default:
      return assertNever(event);
  }
}

export interface ShippingRules {
  unavailableSkus: ReadonlySet<string>;
  /**
   * The shipment id for an order: deterministic, so a retried decision names the same shipment.
   * Asked only when the order ships (it is a hash: not worth making for every event).
   */
  shippingIdFor(orderId: string): string;
}

export type ShippingDecision = EventDraft<EventOf<"SHIPPING_READY">> | EventDraft<EventOf<"SHIPPING_FAILED">>;

export function decide(state: ShippingState, event: OrderEvent, rules: ShippingRules): ShippingDecision[] {
  if (event.eventType !== "PAYMENT_COMPLETED" || state.cancelledBeforePayment || state.paid) return [];
  const base = { orderId: event.orderId, userId: event.userId };
  const missing = state.items.map((item) => item.sku).filter((sku) => rules.unavailableSkus.has(sku));
  if (missing.length > 0) {
    return [{ eventType: "SHIPPING_FAILED", ...base, reason: `unavailable: ${missing.join(", ")}`, unavailableSkus: missing }];
  }
  return [{ eventType: "SHIPPING_READY", ...base, shippingId: rules.shippingIdFor(event.orderId) }];
}
