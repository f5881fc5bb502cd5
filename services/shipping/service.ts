/** The shipping service: prepares the shipment on PAYMENT_COMPLETED, or fails it for unavailable SKUs. */
import type { ServiceDefinition, Infra } from "../../shared/service-host.ts";
import { ensureBucket } from "../../nats/setup.ts";
import { bucketOptions } from "../../nats/definitions.ts";
import { BUCKETS } from "../../nats/subjects.ts";
import { createOrderStateStore, statefulHandler, type OrderStateStore } from "../../nats/order-state.ts";
import { deterministicUuid } from "../../shared/ids.ts";
import { decide, evolve, initialState, type ShippingDecision, type ShippingRules, type ShippingState } from "./domain/shipping.ts";

export interface ShippingRuntime {
  infra: Infra;
  store: OrderStateStore<ShippingState>;
  unavailableSkus: ReadonlySet<string>;
}

export const shippingService: ServiceDefinition<ShippingRuntime> = {
  // Its own SHIPPING_READY/FAILED change no decision (PAYMENT_COMPLETED, once applied, is the
  // fence against shipping twice), so they are acked without a state round trip.
  relevant: new Set(["ORDER_CREATED", "ORDER_CANCEL_REQUESTED", "PAYMENT_COMPLETED"]),
  async setup(infra) {
    const kv = await ensureBucket(infra.nc, infra.jsm, BUCKETS.shippingState, bucketOptions.state);
    return { infra, store: createOrderStateStore<ShippingState>(kv), unavailableSkus: new Set(infra.config.unavailableSkus) };
  },
  handler(rt) {
    const rules: ShippingRules = {
      unavailableSkus: rt.unavailableSkus,
      shippingIdFor: (orderId) => deterministicUuid("shipment", orderId),
    };
    return statefulHandler<ShippingState, ShippingDecision>(
      {
        initialState,
        evolve: (state, event) => evolve(state, event),
        decide: (state, event) => decide(state, event, rules),
        perform: async (draft, _event, delivery) => void (await rt.infra.publisher.publish(draft, delivery.trace)),
      },
      rt.store,
    );
  },
};
