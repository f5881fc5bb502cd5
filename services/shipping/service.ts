/** The shipping service: prepares the shipment of a paid order, or fails it for unavailable SKUs. */
import type { ServiceDefinition, Infra } from "../../host/service-definition.ts";
import { reactorHandlers } from "../../nats/order-reactor.ts";
import { deterministicUuid } from "../../shared/ids.ts";
import { decide, evolve, initialState, settled, type ShippingDecision, type ShippingRules, type ShippingState } from "./domain/shipping.ts";

export interface ShippingRuntime {
  infra: Infra;
  rules: ShippingRules;
}

export const shippingService: ServiceDefinition<ShippingRuntime> = {
  name: "shipping",
  async setup(infra) {
    const rules: ShippingRules = {
      unavailableSkus: new Set(infra.config.unavailableSkus),
      shippingIdFor: (orderId) => deterministicUuid("shipment", orderId),
    };
    return { infra, rules };
  },
  handlers(rt) {
    return reactorHandlers<ShippingState, ShippingDecision>({
      reactor: { initialState, evolve, decide: (state) => decide(state, rt.rules), settled },
      read: (orderId) => rt.infra.history(orderId),
      perform: (draft, { delivery }) => rt.infra.publisher.publish(draft, delivery.trace),
      // Once per order, when its SHIPPING_READY is recorded: ORDER_CREATED → SHIPPING_READY (their occurredAt).
      recorded(event, before) {
        if (event.eventType !== "SHIPPING_READY" || !before.createdAt) return;
        const seconds = (Date.parse(event.occurredAt) - Date.parse(before.createdAt)) / 1000;
        if (Number.isFinite(seconds) && seconds >= 0) rt.infra.metrics.orderLatency.observe(seconds);
      },
    });
  },
};
