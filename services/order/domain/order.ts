/**
 * The order: its view (state), how each event changes it (evolve), and what the order service
 * decides — on commands from the API and on events from the other services. Pure: no I/O.
 */
import { assertNever, type CancelReason, type EventDraft, type EventOf, type OrderEvent, type OrderItem } from "../../../shared/events.ts";

export type OrderStatus = "CREATED" | "PAID" | "SHIPPING_READY" | "CANCELLED";

export interface OrderView {
  orderId: string;
  userId: string;
  amount: number;
  currency: string;
  items: OrderItem[];
  status: OrderStatus;
  createdAt: string;
  updatedAt: string;
  paymentId?: string;
  shippingId?: string;
  cancelReason?: CancelReason;
  /** The customer asked to cancel; the outcome is decided by stream order (see README). */
  cancelRequested?: boolean;
  /** Payment failed or was refunded: the order is to be cancelled, for this reason. */
  cancelDue?: CancelReason;
  traceId?: string;
}

export type OrderState = OrderView | null;

export const initialState = (): OrderState => null;

/** Applies one event to the view. Events before ORDER_CREATED cannot exist (per-order order). */
export function evolve(view: OrderState, event: OrderEvent): OrderState {
  if (event.eventType === "ORDER_CREATED") {
    return {
      orderId: event.orderId,
      userId: event.userId,
      amount: event.amount,
      currency: event.currency,
      items: event.items,
      status: "CREATED",
      createdAt: event.occurredAt,
      updatedAt: event.occurredAt,
    };
  }
  if (!view) return view;
  const touched = { ...view, updatedAt: event.occurredAt };
  switch (event.eventType) {
    case "PAYMENT_COMPLETED":
      return { ...touched, status: view.status === "CREATED" ? "PAID" : view.status, paymentId: event.paymentId };
    case "PAYMENT_FAILED":
      return { ...touched, cancelDue: "PAYMENT_FAILED" };
    case "SHIPPING_READY":
      return { ...touched, status: view.status === "CANCELLED" ? view.status : "SHIPPING_READY", shippingId: event.shippingId };
    case "SHIPPING_FAILED":
      return touched;
    case "ORDER_CANCEL_REQUESTED":
      return { ...touched, cancelRequested: true };
    case "PAYMENT_REFUNDED":
      return { ...touched, cancelDue: event.reason };
    case "ORDER_CANCELLED":
      return { ...touched, status: "CANCELLED", cancelReason: event.cancelReason, cancelDue: undefined };
    default:
      return assertNever(event);
  }
}

/** Folds a whole history (in stream order) into the view. */
export function foldOrder(events: readonly OrderEvent[]): OrderState {
  return events.reduce<OrderState>(evolve, initialState());
}

/** What the order service publishes in answer to the others: ORDER_CANCELLED once payment failed or was refunded. */
export function decide(view: OrderState): EventDraft[] {
  if (!view || view.status === "CANCELLED" || view.cancelDue === undefined) return [];
  return [{ eventType: "ORDER_CANCELLED", orderId: view.orderId, userId: view.userId, cancelReason: view.cancelDue }];
}

export interface CreateOrder {
  orderId: string;
  userId: string;
  amount: number;
  currency: string;
  items: OrderItem[];
}

export function decideCreate(command: CreateOrder): EventDraft<EventOf<"ORDER_CREATED">> {
  return { eventType: "ORDER_CREATED", ...command };
}

export type CancelDecision =
  | { kind: "accepted"; event: EventDraft<EventOf<"ORDER_CANCEL_REQUESTED">> }
  | { kind: "too-late"; status: OrderStatus };

/** A cancel is accepted until the order is SHIPPING_READY or CANCELLED. */
export function decideCancel(view: OrderView): CancelDecision {
  if (view.status === "SHIPPING_READY" || view.status === "CANCELLED") return { kind: "too-late", status: view.status };
  return { kind: "accepted", event: { eventType: "ORDER_CANCEL_REQUESTED", orderId: view.orderId, userId: view.userId } };
}
