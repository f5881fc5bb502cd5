// The tables derived from the services' manifests: the four keep exactly what they had when the
// tables were kept by hand, and the rules across manifests hold.
import { describe, expect, it } from "vitest";
import { EVENT_TYPES } from "./events.ts";
import { checkManifests, defineService, ServiceManifestError } from "./service-manifest.ts";
import {
  CONSUMED_EVENT_TYPES,
  DEFAULT_PORTS,
  DEFAULT_SERVICES,
  isServiceName,
  PUBLISHED_EVENT_TYPES,
  publisherOf,
  SERVICES,
} from "./services.ts";

describe("the registered services", () => {
  it("are the four, then the opt-in loyalty service; the default system is the four", () => {
    expect(SERVICES).toEqual(["order", "payment", "shipping", "notification", "loyalty"]);
    expect(DEFAULT_SERVICES).toEqual(["order", "payment", "shipping", "notification"]);
    expect(isServiceName("loyalty")).toBe(true);
    expect(isServiceName("points")).toBe(false);
  });

  it("keep the four's ports and give loyalty 3004", () => {
    expect(DEFAULT_PORTS).toEqual({ order: 3000, payment: 3001, shipping: 3002, notification: 3003, loyalty: 3004 });
  });

  it("keep the four's consumed and published event types", () => {
    expect(CONSUMED_EVENT_TYPES).toEqual({
      order: ["PAYMENT_FAILED", "PAYMENT_REFUNDED"],
      payment: ["ORDER_CREATED", "ORDER_CANCEL_REQUESTED", "SHIPPING_FAILED"],
      shipping: ["ORDER_CREATED", "ORDER_CANCEL_REQUESTED", "PAYMENT_COMPLETED"],
      notification: EVENT_TYPES,
      loyalty: ["PAYMENT_COMPLETED", "PAYMENT_REFUNDED"],
    });
    expect(PUBLISHED_EVENT_TYPES).toEqual({
      order: ["ORDER_CREATED", "ORDER_CANCEL_REQUESTED", "ORDER_CANCELLED"],
      payment: ["PAYMENT_COMPLETED", "PAYMENT_FAILED", "PAYMENT_REFUNDED"],
      shipping: ["SHIPPING_READY", "SHIPPING_FAILED"],
      notification: [],
      loyalty: [],
    });
  });

  it("name one publisher for every event type", () => {
    expect(Object.fromEntries(EVENT_TYPES.map((t) => [t, publisherOf(t)]))).toEqual({
      ORDER_CREATED: "order",
      PAYMENT_COMPLETED: "payment",
      PAYMENT_FAILED: "payment",
      SHIPPING_READY: "shipping",
      SHIPPING_FAILED: "shipping",
      ORDER_CANCEL_REQUESTED: "order",
      PAYMENT_REFUNDED: "payment",
      ORDER_CANCELLED: "order",
    });
  });
});

describe("checkManifests", () => {
  const a = defineService({ name: "alpha", port: 4000, consumes: [], publishes: ["ORDER_CREATED"] });

  it("refuses a name that cannot be a NATS token or env prefix, a name twice, a port twice, an event type with two publishers", () => {
    expect(() => checkManifests([defineService({ name: "Alpha-1", port: 1, consumes: [], publishes: [] })])).toThrow(/lower-case letters/);
    expect(() => checkManifests([a, { ...a, port: 4001, publishes: [] }])).toThrow(/alpha is registered twice/);
    expect(() => checkManifests([a, defineService({ name: "beta", port: 4000, consumes: [], publishes: [] })])).toThrow(
      /alpha and beta both default to port 4000/,
    );
    expect(() => checkManifests([a, defineService({ name: "beta", port: 4001, consumes: [], publishes: ["ORDER_CREATED"] })])).toThrow(
      ServiceManifestError,
    );
  });

  it("passes manifests that keep the rules", () => {
    const b = defineService({ name: "beta", port: 4001, consumes: ["ORDER_CREATED"], publishes: [] });
    expect(checkManifests([a, b])).toEqual([a, b]);
  });
});
