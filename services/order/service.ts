/** The order service: the order API, the order view, and its reactions to payment's outcomes. */
import type { KV } from "@nats-io/kv";
import type { Infra, ServiceDefinition } from "../../shared/service-host.ts";
import { ensureBucket } from "../../nats/setup.ts";
import { bucketOptions } from "../../nats/definitions.ts";
import { BUCKETS } from "../../nats/subjects.ts";
import { createOrderStateStore, statefulHandler, type OrderStateStore } from "../../nats/order-state.ts";
import { traceIdOf } from "../../nats/order-history.ts";
import { decideOnEvent, evolve, initialState, type OrderState } from "./domain/order.ts";
import { orderRoutes } from "./http.ts";
import { EVENT_TYPES, type EventDraft } from "../../shared/events.ts";

export interface OrderRuntime {
  infra: Infra;
  views: OrderStateStore<OrderState>;
  idempotencyKeys: KV;
}

export const orderService: ServiceDefinition<OrderRuntime> = {
  // The view folds every event of the order.
  relevant: new Set(EVENT_TYPES),
  async setup(infra) {
    const [views, idempotencyKeys] = await Promise.all([
      ensureBucket(infra.nc, infra.jsm, BUCKETS.orderViews, bucketOptions.state),
      ensureBucket(infra.nc, infra.jsm, BUCKETS.idempotencyKeys, bucketOptions.idempotency),
    ]);
    return { infra, views: createOrderStateStore<OrderState>(views), idempotencyKeys };
  },
  handler(rt) {
    return statefulHandler<OrderState, EventDraft>(
      {
        initialState,
        evolve(view, event, delivery) {
          const next = evolve(view, event);
          if (next && event.eventType === "ORDER_CREATED") next.traceId = traceIdOf(delivery.traceparent) ?? undefined;
          return next;
        },
        decide: decideOnEvent,
        perform: async (draft, _event, delivery) => void (await rt.infra.publisher.publish(draft, delivery.trace)),
        // Once per order (the fence), not once per delivery or replay.
        applied(view, event) {
          if (event.eventType === "SHIPPING_READY" && view) {
            const seconds = (Date.parse(event.occurredAt) - Date.parse(view.createdAt)) / 1000;
            if (Number.isFinite(seconds) && seconds >= 0) rt.infra.metrics.orderLatency.observe(seconds);
          }
        },
      },
      rt.views,
    );
  },
  routes: orderRoutes,
};
