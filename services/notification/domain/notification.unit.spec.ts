import { describe, expect, it } from "vitest";
import { EVENT_TYPES, type OrderEvent } from "../../../shared/events.ts";
import { anEvent, ORDER_ID, USER_ID } from "../../../shared/testing/decider-spec.ts";
import { messageFor, notificationFor } from "./notification.ts";

const order = `Order ${ORDER_ID}`;

describe("messageFor", () => {
  const cases: Array<[OrderEvent, string]> = [
    [anEvent("ORDER_CREATED", { amount: 1234.5, currency: "EUR", items: [] }), `${order} was received: 1234.50 EUR.`],
    [anEvent("PAYMENT_COMPLETED", { amount: 100, currency: "USD" }), `${order}: payment of 100.00 USD completed.`],
    [anEvent("PAYMENT_FAILED", { reason: "over limit" }), `${order}: payment was declined.`],
    [anEvent("SHIPPING_READY", { shippingId: "ship-9" }), `${order} is ready to ship (shipment ship-9).`],
    [
      anEvent("SHIPPING_FAILED", { unavailableSkus: ["OUT-OF-STOCK", "GONE"] }),
      `${order} cannot be shipped: OUT-OF-STOCK, GONE unavailable.`,
    ],
    [anEvent("ORDER_CANCEL_REQUESTED"), `${order}: we received your cancellation request.`],
    [anEvent("PAYMENT_REFUNDED", { amount: 0.1, currency: "GBP" }), `${order}: 0.10 GBP was refunded.`],
    [anEvent("ORDER_CANCELLED", { cancelReason: "PAYMENT_FAILED" }), `${order} was cancelled (payment failed).`],
    [anEvent("ORDER_CANCELLED", { cancelReason: "SHIPPING_FAILED" }), `${order} was cancelled (shipping failed).`],
    [anEvent("ORDER_CANCELLED", { cancelReason: "CUSTOMER_REQUEST" }), `${order} was cancelled (customer request).`],
  ];

  it.each(cases.map(([event, message]) => ({ event, message })))("%# $event.eventType → $message", ({ event, message }) => {
    expect(messageFor(event)).toBe(message);
  });

  it("has a case for every event type", () => {
    expect(new Set(cases.map(([event]) => event.eventType))).toEqual(new Set(EVENT_TYPES));
  });
});

describe("notificationFor", () => {
  it("carries the event's id, order, user and type, the send time in ISO form, and the message", () => {
    const event = anEvent("SHIPPING_READY", { eventId: "evt-42", shippingId: "ship-9" });
    expect(notificationFor(event, new Date("2026-11-24T10:00:05.123Z"))).toEqual({
      eventId: "evt-42",
      orderId: ORDER_ID,
      userId: USER_ID,
      eventType: "SHIPPING_READY",
      sentAt: "2026-11-24T10:00:05.123Z",
      message: `${order} is ready to ship (shipment ship-9).`,
    });
  });

  it("is a pure function of the event and the time: the same event gives the same notification", () => {
    const event = anEvent("PAYMENT_FAILED");
    const at = new Date("2026-11-24T10:00:00.000Z");
    expect(notificationFor(event, at)).toEqual(notificationFor(structuredClone(event), at));
  });
});
