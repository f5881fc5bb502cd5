// The order service as data (shared/service-manifest.ts): the public order API and the order view.
import { defineService } from "../../shared/service-manifest.ts";

export const orderManifest = defineService({
  name: "order",
  port: 3000,
  consumes: ["PAYMENT_FAILED", "PAYMENT_REFUNDED"],
  publishes: ["ORDER_CREATED", "ORDER_CANCEL_REQUESTED", "ORDER_CANCELLED"],
  // The Idempotency-Key claims of POST /orders.
  nats: { buckets: ["idempotencyKeys"] },
});
