/** The order service: the order API, and ORDER_CANCELLED once payment failed or was refunded. */
import type { ServiceDefinition } from "../../host/service-definition.ts";
import { ensureBucket } from "../../nats/setup.ts";
import { bucketOptions } from "../../nats/definitions.ts";
import { BUCKETS } from "../../nats/subjects.ts";
import { reactorHandlers } from "../../nats/order-reactor.ts";
import { decide, evolve, initialState, type OrderState } from "./domain/order.ts";
import { orderApi, orderRoutes } from "./http.ts";
import type { EventDraft } from "../../shared/events.ts";
import type { OrderRuntime } from "./runtime.ts";

export const orderService: ServiceDefinition<OrderRuntime> = {
  name: "order",
  // It takes orders from users: with no room in the store it cannot, so it leaves the load balancer.
  unreadyWhenStoreFull: true,
  async setup(infra) {
    const idempotencyKeys = await ensureBucket(infra.nc, infra.jsm, BUCKETS.idempotencyKeys, bucketOptions.idempotency);
    return { infra, idempotencyKeys };
  },
  handlers(rt) {
    return reactorHandlers<OrderState, EventDraft>({
      reactor: { initialState, evolve, decide },
      read: (orderId) => rt.infra.history(orderId),
      perform: (draft, { delivery }) => rt.infra.publisher.publish(draft, delivery.trace),
    });
  },
  routes: orderRoutes,
  api: orderApi,
};
