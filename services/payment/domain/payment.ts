/**
 * Payment's view of one order and its decisions. Pure: charging and refunding are commands the
 * adapter carries out through a PaymentProvider; their outcomes come back as events.
 *
 * The state is the fold of the order's events in stream order, and `decide` looks at the whole of
 * it, so it does not matter in which order the events became known: payment learns its own
 * PAYMENT_COMPLETED when it publishes it, and may be delivered an earlier ORDER_CANCEL_REQUESTED
 * after that. The cancel race is decided by stream order: if ORDER_CANCEL_REQUESTED is in the stream
 * before PAYMENT_COMPLETED, the customer wins (refund once the charge is there); if after, shipping
 * wins (no refund). Shipping folds the same order of the same stream, so both always agree.
 */
import { assertNever, type EventDraft, type EventOf, type OrderEvent } from "../../../shared/events.ts";

export interface PaymentState {
  status: "NONE" | "CHARGED" | "DECLINED" | "REFUNDED";
  orderId?: string;
  userId?: string;
  amount?: number;
  currency?: string;
  paymentId?: string;
  /** A cancel came before the charge in the stream. */
  cancelledBeforeCharge: boolean;
  /** Shipping could not ship the paid order. */
  shippingFailed: boolean;
}

export const initialState = (): PaymentState => ({ status: "NONE", cancelledBeforeCharge: false, shippingFailed: false });

export function evolve(state: PaymentState, event: OrderEvent): PaymentState {
  switch (event.eventType) {
    case "ORDER_CREATED":
      return { ...state, orderId: event.orderId, userId: event.userId, amount: event.amount, currency: event.currency };
    // The outcome of the charge: once (a repeat of either cannot undo a refund or a decline).
    case "PAYMENT_COMPLETED":
      return state.status === "NONE" ? { ...state, status: "CHARGED", paymentId: event.paymentId } : state;
    case "PAYMENT_FAILED":
      return state.status === "NONE" ? { ...state, status: "DECLINED" } : state;
    case "ORDER_CANCEL_REQUESTED":
      return state.status === "NONE" ? { ...state, cancelledBeforeCharge: true } : state;
    case "PAYMENT_REFUNDED":
      return { ...state, status: "REFUNDED" };
    case "SHIPPING_FAILED":
      return { ...state, shippingFailed: true };
    case "SHIPPING_READY":
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

/**
 * What is still to be done for the order: charge it once it exists; refund the charge once, when
 * shipping failed or the customer's cancel came first. Nothing else, and nothing twice: once its
 * outcome is known the command is no longer asked for.
 */
export function decide(state: PaymentState): PaymentCommand[] {
  if (state.orderId === undefined || state.userId === undefined || state.amount === undefined) return [];
  if (state.status === "NONE") {
    return [{ kind: "charge", orderId: state.orderId, userId: state.userId, amount: state.amount, currency: state.currency ?? "USD" }];
  }
  if (state.status === "CHARGED" && state.paymentId) {
    if (state.shippingFailed) return [refund(state, state.paymentId, "SHIPPING_FAILED")];
    if (state.cancelledBeforeCharge) return [refund(state, state.paymentId, "CUSTOMER_REQUEST")];
  }
  return [];
}

/** Declined or refunded: whatever comes next, `decide` asks for nothing (a charge may still be refunded). */
export function settled(state: PaymentState): boolean {
  return state.status === "DECLINED" || state.status === "REFUNDED";
}

function refund(state: PaymentState, paymentId: string, reason: "SHIPPING_FAILED" | "CUSTOMER_REQUEST"): PaymentCommand {
  return {
    kind: "refund",
    orderId: state.orderId!,
    userId: state.userId!,
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
