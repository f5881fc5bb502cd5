import { describe, expect, it } from "vitest";
import { EVENT_TYPES, isEventType, parseEvent, type EventType } from "./events.ts";
import { anEvent } from "./testing/decider-spec.ts";

/** A plain JSON copy of a valid event, as it comes off the wire. */
const wire = (eventType: EventType): Record<string, unknown> => JSON.parse(JSON.stringify(anEvent(eventType)));

function rejects(value: unknown, path: string): void {
  const result = parseEvent(value);
  expect(result.ok).toBe(false);
  if (!result.ok) expect(result.reason).toContain(path);
}

describe("parseEvent", () => {
  it.each(EVENT_TYPES)("accepts a valid %s and returns it unchanged", (eventType) => {
    const value = wire(eventType);
    expect(parseEvent(value)).toEqual({ ok: true, event: value });
  });

  it("accepts a minimal ORDER_CREATED with its envelope", () => {
    const result = parseEvent({
      eventType: "ORDER_CREATED",
      orderId: "123",
      userId: "abc",
      amount: 100.0,
      currency: "USD",
      items: [{ sku: "A-1", quantity: 1, unitPrice: 100.0 }],
      eventId: "e-1",
      occurredAt: "2026-11-24T10:00:00.000Z",
      schemaVersion: 1,
    });
    expect(result.ok).toBe(true);
  });

  it("drops unknown fields", () => {
    const result = parseEvent({ ...wire("SHIPPING_READY"), extra: "x" });
    expect(result.ok && "extra" in result.event).toBe(false);
  });

  it("rejects an unknown or missing eventType", () => {
    rejects({ ...wire("ORDER_CREATED"), eventType: "ORDER_SHIPPED" }, "eventType");
    rejects({ ...wire("ORDER_CREATED"), eventType: "order_created" }, "eventType");
    const { eventType: _, ...untyped } = wire("ORDER_CREATED");
    rejects(untyped, "eventType");
  });

  it("rejects fields of another event type (PAYMENT_COMPLETED without paymentId)", () => {
    rejects({ ...wire("SHIPPING_READY"), eventType: "PAYMENT_COMPLETED" }, "paymentId");
  });

  it.each([
    ["ORDER_CREATED", "amount"],
    ["ORDER_CREATED", "items"],
    ["ORDER_CREATED", "currency"],
    ["PAYMENT_COMPLETED", "paymentId"],
    ["PAYMENT_FAILED", "reason"],
    ["SHIPPING_READY", "shippingId"],
    ["SHIPPING_FAILED", "unavailableSkus"],
    ["PAYMENT_REFUNDED", "reason"],
    ["ORDER_CANCELLED", "cancelReason"],
    ["ORDER_CANCEL_REQUESTED", "userId"],
    ["ORDER_CANCEL_REQUESTED", "eventId"],
    ["ORDER_CANCEL_REQUESTED", "occurredAt"],
    ["ORDER_CANCEL_REQUESTED", "schemaVersion"],
    ["ORDER_CANCEL_REQUESTED", "orderId"],
  ] as const)("rejects %s without %s", (eventType, field) => {
    const value = wire(eventType);
    delete value[field];
    rejects(value, field);
  });

  it.each(["a.b", "a*", "*", ">", "a>", "a b", " a", "a\tb", "", "x".repeat(65)])("rejects orderId %j (not subject-safe)", (orderId) => {
    rejects({ ...wire("ORDER_CANCEL_REQUESTED"), orderId }, "orderId");
  });

  it("rejects a userId that is not subject-safe", () => {
    rejects({ ...wire("ORDER_CREATED"), userId: "u.1" }, "userId");
  });

  it("rejects schemaVersion 2 (and a string '1')", () => {
    rejects({ ...wire("ORDER_CREATED"), schemaVersion: 2 }, "schemaVersion");
    rejects({ ...wire("ORDER_CREATED"), schemaVersion: "1" }, "schemaVersion");
  });

  it("rejects an occurredAt that is not an ISO timestamp", () => {
    rejects({ ...wire("ORDER_CREATED"), occurredAt: "yesterday" }, "occurredAt");
  });

  it("rejects a negative amount, a bad currency, a refund reason that is not allowed, an unknown cancel reason", () => {
    rejects({ ...wire("ORDER_CREATED"), amount: -1 }, "amount");
    rejects({ ...wire("ORDER_CREATED"), currency: "usd" }, "currency");
    rejects({ ...wire("PAYMENT_REFUNDED"), reason: "PAYMENT_FAILED" }, "reason");
    rejects({ ...wire("ORDER_CANCELLED"), cancelReason: "BORED" }, "cancelReason");
  });

  it("rejects an item with quantity 0 with the item's path", () => {
    rejects({ ...wire("ORDER_CREATED"), items: [{ sku: "A-1", quantity: 0, unitPrice: 1 }] }, "items.0.quantity");
  });

  it.each([null, undefined, 42, "ORDER_CREATED", [], {}])("rejects %j without throwing", (value) => {
    expect(parseEvent(value)).toMatchObject({ ok: false, reason: expect.stringMatching(/^invalid event: /) });
  });
});

describe("isEventType", () => {
  it("knows exactly the eight event types", () => {
    expect(EVENT_TYPES.filter(isEventType)).toHaveLength(8);
    expect(isEventType("ORDER_SHIPPED")).toBe(false);
    expect(isEventType("order_created")).toBe(false);
  });
});
