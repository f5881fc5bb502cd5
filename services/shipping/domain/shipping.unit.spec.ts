import { describe, expect, it } from "vitest";
import type { OrderEvent } from "../../../shared/events.ts";
import { anEvent, DeciderSpec, ORDER_ID, USER_ID } from "../../../shared/testing/decider-spec.ts";
import { decide, evolve, initialState, settled, type ShippingRules } from "./shipping.ts";

const rules: ShippingRules = { unavailableSkus: new Set(["OUT-OF-STOCK", "GONE"]), shippingIdFor: () => "ship-9" };
/** When an event arrives: what the core decides on everything known of the order with it. */
const spec = DeciderSpec.for({ initialState, evolve, decide: (state, event: OrderEvent) => decide(evolve(state, event), rules) });

const created = anEvent("ORDER_CREATED", {
  amount: 30,
  items: [
    { sku: "A-1", quantity: 1, unitPrice: 10 },
    { sku: "B-2", quantity: 2, unitPrice: 10 },
  ],
});
const createdOutOfStock = anEvent("ORDER_CREATED", {
  amount: 30,
  items: [
    { sku: "A-1", quantity: 1, unitPrice: 10 },
    { sku: "OUT-OF-STOCK", quantity: 1, unitPrice: 10 },
    { sku: "GONE", quantity: 1, unitPrice: 10 },
  ],
});
const createdWithoutItems = anEvent("ORDER_CREATED", { items: [] });
const completed = anEvent("PAYMENT_COMPLETED");
const failed = anEvent("PAYMENT_FAILED");
const cancelRequested = anEvent("ORDER_CANCEL_REQUESTED");
const ready = anEvent("SHIPPING_READY", { shippingId: "ship-9" });
const shippingFailed = anEvent("SHIPPING_FAILED", { reason: "unavailable: OUT-OF-STOCK, GONE", unavailableSkus: ["OUT-OF-STOCK", "GONE"] });

const shipped: ReturnType<typeof decide> = [{ eventType: "SHIPPING_READY", orderId: ORDER_ID, userId: USER_ID, shippingId: "ship-9" }];

describe("shipping decide", () => {
  describe("happy path", () => {
    it("prepares the shipment with the rules' shipping id on PAYMENT_COMPLETED", () => {
      spec.given([created]).when(completed).then(shipped);
    });

    it("ships an order without items", () => {
      spec.given([createdWithoutItems]).when(completed).then(shipped);
    });

    it("does nothing on any other event", () => {
      spec.given([]).when(created).thenNothing();
      spec.given([created]).when(cancelRequested).thenNothing();
      spec.given([created, completed]).when(ready).thenNothing();
    });
  });

  describe("declined", () => {
    it("never ships an order whose payment failed", () => {
      spec.given([created]).when(failed).thenNothing();
      spec
        .given([created, failed])
        .when(anEvent("ORDER_CANCELLED", { cancelReason: "PAYMENT_FAILED" }))
        .thenNothing();
    });
  });

  describe("out of stock", () => {
    it("fails with every unavailable SKU, in item order", () => {
      spec
        .given([createdOutOfStock])
        .when(completed)
        .then([
          {
            eventType: "SHIPPING_FAILED",
            orderId: ORDER_ID,
            userId: USER_ID,
            reason: "unavailable: OUT-OF-STOCK, GONE",
            unavailableSkus: ["OUT-OF-STOCK", "GONE"],
          },
        ]);
    });

    it("does nothing on the refund and the cancellation that follow", () => {
      const history = [createdOutOfStock, completed, shippingFailed];
      spec.given(history).when(anEvent("PAYMENT_REFUNDED")).thenNothing();
      spec
        .given(history)
        .when(anEvent("ORDER_CANCELLED", { cancelReason: "SHIPPING_FAILED" }))
        .thenNothing();
    });
  });

  describe("the cancel race", () => {
    it("cancel before PAYMENT_COMPLETED in the stream: never ships", () => {
      spec.given([created, cancelRequested]).when(completed).thenNothing();
    });

    it("cancel before PAYMENT_COMPLETED: does not fail the shipment either (no SHIPPING_FAILED for out-of-stock)", () => {
      spec.given([createdOutOfStock, cancelRequested]).when(completed).thenNothing();
    });

    it("cancel after PAYMENT_COMPLETED in the stream: the shipment is still due, and once it is there nothing changes", () => {
      spec.given([created]).when(completed).then(shipped);
      spec.given([created, completed]).when(cancelRequested).then(shipped);
      spec.given([created, completed, ready]).when(cancelRequested).thenNothing();
      spec.given([created, completed, cancelRequested]).thenState(expect.objectContaining({ paid: true, cancelledBeforePayment: false }));
    });
  });

  describe("at most once: a repeated event after the outcome decides nothing", () => {
    it("PAYMENT_COMPLETED again after SHIPPING_READY ships nothing", () => {
      spec.given([created, completed, ready]).when(completed).thenNothing();
    });

    it("PAYMENT_COMPLETED again after SHIPPING_FAILED fails nothing", () => {
      spec.given([createdOutOfStock, completed, shippingFailed]).when(completed).thenNothing();
    });

    it("PAYMENT_COMPLETED again before the outcome is recorded asks for the same shipment (the publish guard keeps one)", () => {
      spec.given([created, completed]).when(completed).then(shipped);
    });
  });
});

describe("shipping evolve", () => {
  it("starts empty", () => {
    spec.given([]).thenState({ items: [], paid: false, cancelledBeforePayment: false, outcome: "NONE" });
  });

  it("keeps the order and its items, then the payment, then the outcome", () => {
    const order = { orderId: ORDER_ID, userId: USER_ID, createdAt: created.occurredAt, items: created.items };
    spec.given([created]).thenState({ ...order, paid: false, cancelledBeforePayment: false, outcome: "NONE" });
    spec.given([created, completed]).thenState({ ...order, paid: true, cancelledBeforePayment: false, outcome: "NONE" });
    spec.given([created, completed, ready]).thenState(expect.objectContaining({ outcome: "READY" }));
    spec.given([createdOutOfStock, completed, shippingFailed]).thenState(expect.objectContaining({ outcome: "FAILED" }));
  });

  it("marks a cancel only when it comes before the payment", () => {
    spec.given([created, cancelRequested]).thenState(expect.objectContaining({ cancelledBeforePayment: true, paid: false }));
    spec.given([created, completed, cancelRequested]).thenState(expect.objectContaining({ cancelledBeforePayment: false }));
  });
});

describe("shipping settled (the reactor forgets such an order)", () => {
  const fold = (events: OrderEvent[]) => events.reduce(evolve, initialState());
  const every = [created, createdOutOfStock, completed, failed, cancelRequested, ready, shippingFailed];

  it.each([
    ["shipped", [created, completed, ready]],
    ["failed for stock", [createdOutOfStock, completed, shippingFailed]],
    ["cancelled before the payment", [created, cancelRequested]],
  ])("given an order %s, then it is settled and no later event (or two) makes decide ask for anything", (_, history) => {
    expect(settled(fold(history))).toBe(true);
    for (const a of every) {
      for (const b of every) expect(decide(fold([...history, a, b]), rules)).toEqual([]);
    }
  });

  it.each([
    ["created", [created]],
    ["paid, not yet shipped", [created, completed]],
    ["cancelled after the payment, not yet shipped", [created, completed, cancelRequested]],
  ])("given an order %s, then it is not settled", (_, history) => {
    expect(settled(fold(history))).toBe(false);
  });
});
