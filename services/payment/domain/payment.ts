/**
 * Payment's view of one order and its decisions. Pure: charging and refunding are commands the
 * adapter carries out through a PaymentProvider; their outcomes come back as events.
 *
 * The cancel race is decided by stream order: if ORDER_CANCEL_REQUESTED is in the stream before
 * PAYMENT_COMPLETED, the customer wins (refund once the charge shows up); if after, shipping wins
 * (no refund). Shipping reads the same order of the same stream, so both always agree.
 */
import { assertNever, type EventDraft, type EventOf, type OrderEvent } from "../../../shared/events.ts";

export interface PaymentState {
  status: "NONE" | "CHARGED" | "DECLINED" | "REFUNDED";
  amount?: number;
  currency?: string;
  paymentId?: string;
  /** A cancel came before the charge in the stream. */
  cancelledBeforeCharge: boolean;
}

export const initialState = (): PaymentState => ({ status: "NONE", cancelledBeforeCharge: false });

export function evolve(state: PaymentState, event: OrderEvent): PaymentState {
  switch (event.eventType) {
    case "ORDER_CREATED":
      return { ...state, amount: event.amount, currency: event.currency };
    case "PAYMENT_COMPLETED":
      return { ...state, status: "CHARGED", paymentId: event.paymentId };
    case "PAYMENT_FAILED":
      return { ...state, status: "DECLINED" };
    case "ORDER_CANCEL_REQUESTED":
      return state.status === "NONE" ? { ...state, cancelledBeforeCharge: true } : state;
    case "PAYMENT_REFUNDED":
      return { ...state, status: "REFUNDED" };
    case "SHIPPING_READY":
    case "SHIPPING_FAILED":
    case "ORDER_CANCELLED":
      return state;
    default:
      return assertNever(event);
  }
}

export type PaymentCommand =
  | { kind: "charge"; orderId: string; userId: string; amount: number; currency: string }
  | {
      kind: "refund";
      orderId: string;
      userId: string;
      paymentId: string;
      amount: number;
      currency: string;
      reason: "SHIPPING_FAILED" | "CUSTOMER_REQUEST";
    };

/** What to do about an event, given the state before it. */
export function decide(state: PaymentState, event: OrderEvent): PaymentCommand[] {
  switch (event.eventType) {
    case "ORDER_CREATED":
      return state.status === "NONE"
        ? [{ kind: "charge", orderId: event.orderId, userId: event.userId, amount: event.amount, currency: event.currency }]
        : [];
    case "PAYMENT_COMPLETED":
      return state.cancelledBeforeCharge && state.status === "NONE"
        ? [refund(state, event, event.paymentId, "CUSTOMER_REQUEST")]
        : [];
    case "SHIPPING_FAILED":
      return state.status === "CHARGED" && state.paymentId
        ? [refund(state, event, state.paymentId, "SHIPPING_FAILED")]
        : [];
    default:
      return [];
  }
}

function refund(
  state: PaymentState,
  event: OrderEvent,
  paymentId: string,
  reason: "SHIPPING_FAILED" | "CUSTOMER_REQUEST",
): PaymentCommand {
  return {
    kind: "refund",
    orderId: event.orderId,
    userId: event.userId,
    paymentId,
    amount: state.amount ?? 0,
    currency: state.currency ?? "USD",
    reason,
  };
}

export type ChargeResult = { approved: true; paymentId: string } | { approved: false; reason: string };

/** The event that records a charge's outcome. */
export function chargeOutcome(
  command: Extract<PaymentCommand, { kind: "charge" }>,
  result: ChargeResult,
): EventDraft<EventOf<"PAYMENT_COMPLETED">> | EventDraft<EventOf<"PAYMENT_FAILED">> {
  const base = { orderId: command.orderId, userId: command.userId };
  return result.approved
    ? { eventType: "PAYMENT_COMPLETED", ...base, paymentId: result.paymentId, amount: command.amount, currency: command.currency }
    : { eventType: "PAYMENT_FAILED", ...base, reason: result.reason };
}

/** The event that records a refund. */
export function refundOutcome(command: Extract<PaymentCommand, { kind: "refund" }>): EventDraft<EventOf<"PAYMENT_REFUNDED">> {
  return {
    eventType: "PAYMENT_REFUNDED",
    orderId: command.orderId,
    userId: command.userId,
    paymentId: command.paymentId,
    amount: command.amount,
    currency: command.currency,
    reason: command.reason,
  };
}
