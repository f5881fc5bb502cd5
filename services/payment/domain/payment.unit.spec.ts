import { describe, expect, it } from "vitest";
import type { OrderEvent } from "../../../shared/events.ts";
import { anEvent, DeciderSpec, ORDER_ID, USER_ID } from "../../../shared/testing/decider-spec.ts";
import { chargeOutcome, decide, evolve, initialState, refundOutcome, settled, type PaymentCommand } from "./payment.ts";

/** When an event arrives: what the core decides on everything known of the order with it. */
const spec = DeciderSpec.for({ initialState, evolve, decide: (state, event: OrderEvent) => decide(evolve(state, event)) });

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
      spec
        .given([created, completed])
        .when(shippingFailed)
        .then([refund("SHIPPING_FAILED")]);
    });

    it("does nothing on its own PAYMENT_REFUNDED or on ORDER_CANCELLED", () => {
      spec.given([created, completed, shippingFailed]).when(refundedForShipping).thenNothing();
      spec
        .given([created, completed, shippingFailed, refundedForShipping])
        .when(anEvent("ORDER_CANCELLED", { cancelReason: "SHIPPING_FAILED" }))
        .thenNothing();
    });

    it("asks for no refund when SHIPPING_FAILED comes before any charge: only the charge, still due", () => {
      spec.given([created]).when(shippingFailed).then([charge]);
    });
  });

  describe("the cancel race", () => {
    it("cancel before PAYMENT_COMPLETED in the stream: refunds with CUSTOMER_REQUEST when the charge shows up", () => {
      spec
        .given([created, cancelRequested])
        .when(completed)
        .then([refund("CUSTOMER_REQUEST")]);
    });

    it("cancel before any charge is known: the charge is still due (its refund follows once it is there)", () => {
      spec.given([created]).when(cancelRequested).then([charge]);
      spec.given([created, completed]).when(refundedForCustomer).thenNothing();
    });

    it("learns its own charge before an earlier cancel is delivered: folded in stream order, the refund is due", () => {
      // Payment publishes PAYMENT_COMPLETED itself and so knows it first; the cancel, earlier in the
      // stream, is delivered after. The fold is in stream order whatever the order of learning.
      spec
        .given([created, cancelRequested])
        .when(completed)
        .then([refund("CUSTOMER_REQUEST")]);
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
    spec.given([]).thenState({ status: "NONE", cancelledBeforeCharge: false, shippingFailed: false });
  });

  it("remembers the order, amount and currency, then the payment id", () => {
    const order = {
      orderId: ORDER_ID,
      userId: USER_ID,
      amount: 42.5,
      currency: "EUR",
      cancelledBeforeCharge: false,
      shippingFailed: false,
    };
    spec.given([created]).thenState({ status: "NONE", ...order });
    spec.given([created, completed]).thenState({ status: "CHARGED", ...order, paymentId: "pay-7" });
  });

  it("keeps the first outcome of the charge and a refund", () => {
    spec.given([created, completed, refundedForShipping, completed]).thenState(expect.objectContaining({ status: "REFUNDED" }));
    spec.given([created, failed, completed]).thenState(expect.objectContaining({ status: "DECLINED" }));
  });

  it("records a decline and a refund", () => {
    spec.given([created, failed]).thenState(expect.objectContaining({ status: "DECLINED" }));
    spec.given([created, completed, shippingFailed, refundedForShipping]).thenState(expect.objectContaining({ status: "REFUNDED" }));
  });

  it("marks a cancel only when it comes before the charge", () => {
    spec.given([created, cancelRequested]).thenState(expect.objectContaining({ cancelledBeforeCharge: true }));
    spec
      .given([created, completed, cancelRequested])
      .thenState(expect.objectContaining({ cancelledBeforeCharge: false, status: "CHARGED" }));
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

describe("payment settled (the reactor forgets such an order)", () => {
  const fold = (events: OrderEvent[]) => events.reduce(evolve, initialState());
  const every = [created, completed, failed, shippingReady, shippingFailed, cancelRequested, refundedForShipping, refundedForCustomer];

  it.each([
    ["declined", [created, failed]],
    ["refunded after shipping failed", [created, completed, shippingFailed, refundedForShipping]],
    ["refunded for the customer", [created, cancelRequested, completed, refundedForCustomer]],
  ])("given an order %s, then it is settled and no later event (or two) makes decide ask for anything", (_, history) => {
    expect(settled(fold(history))).toBe(true);
    for (const a of every) {
      for (const b of every) expect(decide(fold([...history, a, b]))).toEqual([]);
    }
  });

  it.each([
    ["created", [created]],
    // A charge may still have to be refunded (shipping fails, or a cancel that came first is delivered late).
    ["charged", [created, completed]],
    ["charged and shipped", [created, completed, shippingReady]],
  ])("given an order %s, then it is not settled", (_, history) => {
    expect(settled(fold(history))).toBe(false);
  });
});
