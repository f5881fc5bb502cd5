/**
 * Shipping's view of one order and its decision. Pure. The shipment is prepared once the order is
 * paid, unless a cancel came before the payment in the stream (see docs/design.md, "The cancel race"); the
 * state is the fold of the order's events in stream order, and `decide` looks at the whole of it.
 */
import { assertNever, type EventDraft, type EventOf, type OrderEvent, type OrderItem } from "../../../shared/events.ts";

export interface ShippingState {
  orderId?: string;
  userId?: string;
  /** ORDER_CREATED's occurredAt: the start of the order's end-to-end latency. */
  createdAt?: string;
  items: OrderItem[];
  paid: boolean;
  cancelledBeforePayment: boolean;
  outcome: "NONE" | "READY" | "FAILED";
}

export const initialState = (): ShippingState => ({ items: [], paid: false, cancelledBeforePayment: false, outcome: "NONE" });

export function evolve(state: ShippingState, event: OrderEvent): ShippingState {
  switch (event.eventType) {
    case "ORDER_CREATED":
      return { ...state, orderId: event.orderId, userId: event.userId, createdAt: event.occurredAt, items: event.items };
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

/** The shipment (or its failure) once the order is paid and no cancel came first; nothing twice. */
export function decide(state: ShippingState, rules: ShippingRules): ShippingDecision[] {
  if (!state.paid || state.cancelledBeforePayment || state.outcome !== "NONE" || !state.orderId || !state.userId) return [];
  const base = { orderId: state.orderId, userId: state.userId };
  const missing = state.items.map((item) => item.sku).filter((sku) => rules.unavailableSkus.has(sku));
  if (missing.length > 0) {
    return [{ eventType: "SHIPPING_FAILED", ...base, reason: `unavailable: ${missing.join(", ")}`, unavailableSkus: missing }];
  }
  return [{ eventType: "SHIPPING_READY", ...base, shippingId: rules.shippingIdFor(state.orderId) }];
}

/** Shipped, failed, or cancelled before the payment: whatever comes next, `decide` asks for nothing. */
export function settled(state: ShippingState): boolean {
  return state.outcome !== "NONE" || state.cancelledBeforePayment;
}
