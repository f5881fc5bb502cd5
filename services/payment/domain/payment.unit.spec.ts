import { describe, expect, it } from "vitest";
import { anEvent, DeciderSpec, ORDER_ID, USER_ID } from "../../../shared/testing/decider-spec.ts";
import { chargeOutcome, decide, evolve, initialState, refundOutcome, type PaymentCommand } from "./payment.ts";

const spec = DeciderSpec.for({ initialState, evolve, decide });

const created = anEvent("ORDER_CREATED", { amount: 42.5, currency: "EUR", items: [{ sku: "A-1", quantity: 1, unitPrice: 42.5 }] });
const completed = anEvent("PAYMENT_COMPLETED", { paymentId: "pay-7", amount: 42.5, currency: "EUR" });
const failed = anEvent("PAYMENT_FAILED");
const shippingReady = anEvent("SHIPPING_READY");
const shippingFailed = anEvent("SHIPPING_FAILED");
const cancelRequested = anEvent("ORDER_CANCEL_REQUESTED");
const refundedForShipping = anEvent("PAYMENT_REFUNDED", { paymentId: "pay-7", amount: 42.5, currency: "EUR", reason: "SHIPPING_FAILED" });
const refundedForCustomer = anEvent("PAYMENT_REFUNDED", { paymentId: "pay-7", amount: 42.5, currency: "EUR", reason: "CUSTOMER_REQUEST" });

const charge: PaymentCommand = { kind: "charge", orderId: ORDER_ID, userId: USER_ID, amount: 42.5, currency: "EUR" };
const refund = (reason: "SHIPPING_FAILED" | "CUSTOMER_REQUEST"): PaymentCommand => ({
  kind: "refund",
  orderId: ORDER_ID,
  userId: USER_ID,
  paymentId: "pay-7",
  amount: 42.5,
  currency: "EUR",
  reason,
});

describe("payment decide", () => {
  describe("happy path", () => {
    it("charges the order's amount and currency on ORDER_CREATED", () => {
      spec.given([]).when(created).then([charge]);
    });

    it("does nothing on PAYMENT_COMPLETED without a cancel", () => {
      spec.given([created]).when(completed).thenNothing();
    });

    it("does nothing on SHIPPING_READY", () => {
      spec.given([created, completed]).when(shippingReady).thenNothing();
    });
  });

  describe("declined", () => {
    it("does nothing on PAYMENT_FAILED (the order service cancels)", () => {
      spec.given([created]).when(failed).thenNothing();
    });

    it("does not refund a declined payment when shipping fails", () => {
      spec.given([created, failed]).when(shippingFailed).thenNothing();
    });
  });

  describe("out of stock", () => {
    it("refunds the charged payment with SHIPPING_FAILED", () => {
      spec.given([created, completed]).when(shippingFailed).then([refund("SHIPPING_FAILED")]);
    });

    it("does nothing on its own PAYMENT_REFUNDED or on ORDER_CANCELLED", () => {
      spec.given([created, completed, shippingFailed]).when(refundedForShipping).thenNothing();
      spec.given([created, completed, shippingFailed, refundedForShipping]).when(anEvent("ORDER_CANCELLED", { cancelReason: "SHIPPING_FAILED" })).thenNothing();
    });

    it("does not refund when SHIPPING_FAILED arrives before any charge", () => {
      spec.given([created]).when(shippingFailed).thenNothing();
    });
  });

  describe("the cancel race", () => {
    it("cancel before PAYMENT_COMPLETED in the stream: refunds with CUSTOMER_REQUEST when the charge shows up", () => {
      spec.given([created, cancelRequested]).when(completed).then([refund("CUSTOMER_REQUEST")]);
    });

    it("cancel before PAYMENT_COMPLETED: the cancel itself decides nothing (the charge may already be in flight)", () => {
      spec.given([created]).when(cancelRequested).thenNothing();
    });

    it("cancel after PAYMENT_COMPLETED in the stream: no refund, ever", () => {
      spec.given([created, completed]).when(cancelRequested).thenNothing();
      spec.given([created, completed, cancelRequested]).when(shippingReady).thenNothing();
    });

    it("cancel before a decline: nothing to refund", () => {
      spec.given([created, cancelRequested]).when(failed).thenNothing();
    });
  });

  describe("at most once: a repeated event after the outcome decides nothing", () => {
    it("ORDER_CREATED again after PAYMENT_COMPLETED charges nothing", () => {
      spec.given([created, completed]).when(created).thenNothing();
    });

    it("ORDER_CREATED again after PAYMENT_FAILED charges nothing", () => {
      spec.given([created, failed]).when(created).thenNothing();
    });

    it("a second SHIPPING_FAILED after PAYMENT_REFUNDED does not refund twice", () => {
      spec.given([created, completed, shippingFailed, refundedForShipping]).when(shippingFailed).thenNothing();
    });

    it("a second PAYMENT_COMPLETED after the customer refund does not refund twice", () => {
      spec.given([created, cancelRequested, completed, refundedForCustomer]).when(completed).thenNothing();
    });

    it("a second PAYMENT_COMPLETED after an uncancelled charge does nothing", () => {
      spec.given([created, completed]).when(completed).thenNothing();
    });
  });
});

describe("payment evolve", () => {
  it("starts with nothing charged", () => {
    spec.given([]).thenState({ status: "NONE", cancelledBeforeCharge: false });
  });

  it("remembers amount and currency, then the payment id", () => {
    spec.given([created]).thenState({ status: "NONE", amount: 42.5, currency: "EUR", cancelledBeforeCharge: false });
    spec.given([created, completed]).thenState({ status: "CHARGED", amount: 42.5, currency: "EUR", paymentId: "pay-7", cancelledBeforeCharge: false });
  });

  it("records a decline and a refund", () => {
    spec.given([created, failed]).thenState(expect.objectContaining({ status: "DECLINED" }));
    spec.given([created, completed, shippingFailed, refundedForShipping]).thenState(expect.objectContaining({ status: "REFUNDED" }));
  });

  it("marks a cancel only when it comes before the charge", () => {
    spec.given([created, cancelRequested]).thenState(expect.objectContaining({ cancelledBeforeCharge: true }));
    spec.given([created, completed, cancelRequested]).thenState(expect.objectContaining({ cancelledBeforeCharge: false, status: "CHARGED" }));
  });
});

describe("payment outcomes", () => {
  const chargeCommand = charge as Extract<PaymentCommand, { kind: "charge" }>;

  it("an approved charge becomes PAYMENT_COMPLETED with the provider's payment id", () => {
    expect(chargeOutcome(chargeCommand, { approved: true, paymentId: "pay-7" })).toEqual({
      eventType: "PAYMENT_COMPLETED",
      orderId: ORDER_ID,
      userId: USER_ID,
      paymentId: "pay-7",
      amount: 42.5,
      currency: "EUR",
    });
  });

  it("a declined charge becomes PAYMENT_FAILED with the provider's reason", () => {
    expect(chargeOutcome(chargeCommand, { approved: false, reason: "over limit" })).toEqual({
      eventType: "PAYMENT_FAILED",
      orderId: ORDER_ID,
      userId: USER_ID,
      reason: "over limit",
    });
  });

  it("a refund becomes PAYMENT_REFUNDED carrying its reason", () => {
    const command = refund("CUSTOMER_REQUEST") as Extract<PaymentCommand, { kind: "refund" }>;
    expect(refundOutcome(command)).toEqual({
      eventType: "PAYMENT_REFUNDED",
      orderId: ORDER_ID,
      userId: USER_ID,
      paymentId: "pay-7",
      amount: 42.5,
      currency: "EUR",
      reason: "CUSTOMER_REQUEST",
    });
  });
});
