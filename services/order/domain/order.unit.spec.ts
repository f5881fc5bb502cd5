import { describe, expect, it } from "vitest";
import type { OrderEvent } from "../../../shared/events.ts";
import { anEvent, DeciderSpec, ORDER_ID, USER_ID } from "../../../shared/testing/decider-spec.ts";
import { decide, decideCancel, decideCreate, evolve, foldOrder, initialState, type CreateOrder, type OrderView } from "./order.ts";

/** When an event arrives: what the core decides on everything known of the order with it. */
const onEvent = DeciderSpec.for({ initialState, evolve, decide: (view, event: OrderEvent) => decide(evolve(view, event)) });
const cancel = DeciderSpec.for({ initialState, evolve, decide: (view, _command: "cancel") => decideCancel(view!) });
const create = DeciderSpec.for({ initialState, evolve, decide: (_view, command: CreateOrder) => decideCreate(command) });

const items = [{ sku: "A-1", quantity: 2, unitPrice: 12.5 }];
const created = anEvent("ORDER_CREATED", { amount: 25, currency: "EUR", items });
const completed = anEvent("PAYMENT_COMPLETED", { paymentId: "pay-7", amount: 25, currency: "EUR" });
const failed = anEvent("PAYMENT_FAILED");
const ready = anEvent("SHIPPING_READY", { shippingId: "ship-9" });
const shippingFailed = anEvent("SHIPPING_FAILED");
const cancelRequested = anEvent("ORDER_CANCEL_REQUESTED");
const refundedForShipping = anEvent("PAYMENT_REFUNDED", { paymentId: "pay-7", amount: 25, currency: "EUR", reason: "SHIPPING_FAILED" });
const refundedForCustomer = anEvent("PAYMENT_REFUNDED", { paymentId: "pay-7", amount: 25, currency: "EUR", reason: "CUSTOMER_REQUEST" });
const cancelledFor = (cancelReason: "PAYMENT_FAILED" | "SHIPPING_FAILED" | "CUSTOMER_REQUEST") =>
  anEvent("ORDER_CANCELLED", { cancelReason });
const cancelDraft = (cancelReason: "PAYMENT_FAILED" | "SHIPPING_FAILED" | "CUSTOMER_REQUEST") => ({
  eventType: "ORDER_CANCELLED" as const,
  orderId: ORDER_ID,
  userId: USER_ID,
  cancelReason,
});

const HAPPY: OrderEvent[] = [created, completed, ready];
const DECLINED: OrderEvent[] = [created, failed, cancelledFor("PAYMENT_FAILED")];
const OUT_OF_STOCK: OrderEvent[] = [created, completed, shippingFailed, refundedForShipping, cancelledFor("SHIPPING_FAILED")];
const CANCEL_FIRST: OrderEvent[] = [created, cancelRequested, completed, refundedForCustomer, cancelledFor("CUSTOMER_REQUEST")];
const SHIPPING_FIRST: OrderEvent[] = [created, completed, cancelRequested, ready];

describe("order decideCreate", () => {
  it("turns the validated command into ORDER_CREATED with every field", () => {
    const command: CreateOrder = { orderId: ORDER_ID, userId: USER_ID, amount: 25, currency: "EUR", items };
    create
      .given([])
      .when(command)
      .then({ eventType: "ORDER_CREATED", orderId: ORDER_ID, userId: USER_ID, amount: 25, currency: "EUR", items });
  });
});

describe("order decide", () => {
  describe("happy path", () => {
    it("publishes nothing on ORDER_CREATED, PAYMENT_COMPLETED or SHIPPING_READY", () => {
      onEvent.given([]).when(created).thenNothing();
      onEvent.given([created]).when(completed).thenNothing();
      onEvent.given([created, completed]).when(ready).thenNothing();
    });
  });

  describe("declined", () => {
    it("PAYMENT_FAILED → ORDER_CANCELLED with PAYMENT_FAILED", () => {
      onEvent
        .given([created])
        .when(failed)
        .then([cancelDraft("PAYMENT_FAILED")]);
    });

    it("also after a cancel request: the decline is the reason", () => {
      onEvent
        .given([created, cancelRequested])
        .when(failed)
        .then([cancelDraft("PAYMENT_FAILED")]);
    });
  });

  describe("out of stock", () => {
    it("SHIPPING_FAILED alone publishes nothing: the order waits for the refund", () => {
      onEvent.given([created, completed]).when(shippingFailed).thenNothing();
    });

    it("PAYMENT_REFUNDED for SHIPPING_FAILED → ORDER_CANCELLED with SHIPPING_FAILED", () => {
      onEvent
        .given([created, completed, shippingFailed])
        .when(refundedForShipping)
        .then([cancelDraft("SHIPPING_FAILED")]);
    });
  });

  describe("the cancel race", () => {
    it("the cancel request itself publishes nothing", () => {
      onEvent.given([created]).when(cancelRequested).thenNothing();
      onEvent.given([created, completed]).when(cancelRequested).thenNothing();
    });

    it("cancel before PAYMENT_COMPLETED in the stream: the customer refund → ORDER_CANCELLED with CUSTOMER_REQUEST", () => {
      onEvent.given([created, cancelRequested]).when(completed).thenNothing();
      onEvent
        .given([created, cancelRequested, completed])
        .when(refundedForCustomer)
        .then([cancelDraft("CUSTOMER_REQUEST")]);
    });

    it("cancel after PAYMENT_COMPLETED in the stream: SHIPPING_READY wins and nothing is cancelled", () => {
      onEvent.given([created, completed, cancelRequested]).when(ready).thenNothing();
    });
  });

  describe("at most once: a repeated event after the outcome decides nothing", () => {
    it("PAYMENT_FAILED again after ORDER_CANCELLED", () => {
      onEvent.given(DECLINED).when(failed).thenNothing();
    });

    it("PAYMENT_REFUNDED again after ORDER_CANCELLED (shipping failure and customer request)", () => {
      onEvent.given(OUT_OF_STOCK).when(refundedForShipping).thenNothing();
      onEvent.given(CANCEL_FIRST).when(refundedForCustomer).thenNothing();
    });

    it("ORDER_CANCELLED itself decides nothing", () => {
      onEvent.given([created, failed]).when(cancelledFor("PAYMENT_FAILED")).thenNothing();
    });
  });

  it("decides nothing for an order it has no view of", () => {
    onEvent.given([]).when(failed).thenNothing();
    onEvent.given([]).when(refundedForShipping).thenNothing();
  });
});

describe("order decideCancel", () => {
  const accepted = { kind: "accepted", event: { eventType: "ORDER_CANCEL_REQUESTED", orderId: ORDER_ID, userId: USER_ID } } as const;

  it("accepts while CREATED or PAID", () => {
    cancel.given([created]).when("cancel").then(accepted);
    cancel.given([created, completed]).when("cancel").then(accepted);
  });

  it("accepts again while a cancel is pending (the publish is deduplicated)", () => {
    cancel.given([created, cancelRequested]).when("cancel").then(accepted);
  });

  it("is too late (409) once SHIPPING_READY — also when shipping won the race", () => {
    cancel.given(HAPPY).when("cancel").then({ kind: "too-late", status: "SHIPPING_READY" });
    cancel.given(SHIPPING_FIRST).when("cancel").then({ kind: "too-late", status: "SHIPPING_READY" });
  });

  it("is too late (409) once CANCELLED, whatever the reason", () => {
    for (const history of [DECLINED, OUT_OF_STOCK, CANCEL_FIRST]) {
      cancel.given(history).when("cancel").then({ kind: "too-late", status: "CANCELLED" });
    }
  });
});

describe("order evolve (the view)", () => {
  const base: OrderView = {
    orderId: ORDER_ID,
    userId: USER_ID,
    amount: 25,
    currency: "EUR",
    items,
    status: "CREATED",
    createdAt: created.occurredAt,
    updatedAt: created.occurredAt,
  };

  it("has no view before ORDER_CREATED, and ignores events without one", () => {
    onEvent.given([]).thenState(null);
    onEvent.given([completed, ready]).thenState(null);
  });

  it("ORDER_CREATED makes the view, CREATED, with createdAt = updatedAt = occurredAt", () => {
    onEvent.given([created]).thenState(base);
  });

  it("PAYMENT_COMPLETED → PAID with the payment id", () => {
    onEvent.given([created, completed]).thenState({ ...base, status: "PAID", paymentId: "pay-7", updatedAt: completed.occurredAt });
  });

  it("SHIPPING_READY → SHIPPING_READY with the shipping id", () => {
    onEvent
      .given(HAPPY)
      .thenState({ ...base, status: "SHIPPING_READY", paymentId: "pay-7", shippingId: "ship-9", updatedAt: ready.occurredAt });
  });

  it("SHIPPING_FAILED only touches updatedAt; PAYMENT_FAILED and PAYMENT_REFUNDED also mark the cancel as due", () => {
    onEvent.given([created, failed]).thenState({ ...base, cancelDue: "PAYMENT_FAILED", updatedAt: failed.occurredAt });
    onEvent
      .given([created, completed, shippingFailed])
      .thenState({ ...base, status: "PAID", paymentId: "pay-7", updatedAt: shippingFailed.occurredAt });
    onEvent
      .given([created, completed, shippingFailed, refundedForShipping])
      .thenState({ ...base, status: "PAID", paymentId: "pay-7", cancelDue: "SHIPPING_FAILED", updatedAt: refundedForShipping.occurredAt });
  });

  it("ORDER_CANCEL_REQUESTED marks the cancel without changing the status", () => {
    onEvent.given([created, cancelRequested]).thenState({ ...base, cancelRequested: true, updatedAt: cancelRequested.occurredAt });
  });

  it("ORDER_CANCELLED → CANCELLED with its reason", () => {
    const cancelled = cancelledFor("PAYMENT_FAILED");
    onEvent.given(DECLINED).thenState({ ...base, status: "CANCELLED", cancelReason: "PAYMENT_FAILED", updatedAt: cancelled.occurredAt });
  });

  it("updatedAt is the occurredAt of the last event applied", () => {
    const late = anEvent("PAYMENT_COMPLETED", { paymentId: "pay-7", amount: 25, currency: "EUR", occurredAt: "2026-12-01T00:00:00.000Z" });
    onEvent
      .given([created, late])
      .thenState(expect.objectContaining({ createdAt: created.occurredAt, updatedAt: "2026-12-01T00:00:00.000Z" }));
  });

  it("a cancelled order stays CANCELLED even if a later PAYMENT_COMPLETED or SHIPPING_READY is applied", () => {
    onEvent
      .given([created, cancelledFor("PAYMENT_FAILED"), completed])
      .thenState(expect.objectContaining({ status: "CANCELLED", paymentId: "pay-7" }));
    onEvent
      .given([created, cancelledFor("CUSTOMER_REQUEST"), ready])
      .thenState(expect.objectContaining({ status: "CANCELLED", cancelReason: "CUSTOMER_REQUEST" }));
  });
});

describe("foldOrder", () => {
  it("is null for no events", () => {
    expect(foldOrder([])).toBeNull();
  });

  it("happy: SHIPPING_READY with both ids", () => {
    expect(foldOrder(HAPPY)).toMatchObject({ status: "SHIPPING_READY", paymentId: "pay-7", shippingId: "ship-9" });
    expect(foldOrder(HAPPY)).not.toHaveProperty("cancelReason");
  });

  it("declined: CANCELLED for PAYMENT_FAILED, no payment id", () => {
    expect(foldOrder(DECLINED)).toMatchObject({ status: "CANCELLED", cancelReason: "PAYMENT_FAILED" });
    expect(foldOrder(DECLINED)).not.toHaveProperty("paymentId");
  });

  it("out of stock: CANCELLED for SHIPPING_FAILED, with the payment id and no shipping id", () => {
    expect(foldOrder(OUT_OF_STOCK)).toMatchObject({ status: "CANCELLED", cancelReason: "SHIPPING_FAILED", paymentId: "pay-7" });
    expect(foldOrder(OUT_OF_STOCK)).not.toHaveProperty("shippingId");
  });

  it("cancel first: CANCELLED for CUSTOMER_REQUEST; shipping first: SHIPPING_READY, cancel requested, no reason", () => {
    expect(foldOrder(CANCEL_FIRST)).toMatchObject({ status: "CANCELLED", cancelReason: "CUSTOMER_REQUEST", cancelRequested: true });
    expect(foldOrder(SHIPPING_FIRST)).toMatchObject({ status: "SHIPPING_READY", cancelRequested: true, shippingId: "ship-9" });
    expect(foldOrder(SHIPPING_FIRST)).not.toHaveProperty("cancelReason");
  });

  it("equals evolve applied in stream order", () => {
    for (const history of [HAPPY, DECLINED, OUT_OF_STOCK, CANCEL_FIRST, SHIPPING_FIRST]) {
      expect(foldOrder(history)).toEqual(history.reduce(evolve, initialState()));
    }
  });
});
