// The payment service as data (shared/service-manifest.ts): charges on ORDER_CREATED, refunds when the order cannot go on.
import { defineService } from "../../shared/service-manifest.ts";

export const paymentManifest = defineService({
  name: "payment",
  port: 3001,
  consumes: ["ORDER_CREATED", "ORDER_CANCEL_REQUESTED", "SHIPPING_FAILED"],
  publishes: ["PAYMENT_COMPLETED", "PAYMENT_FAILED", "PAYMENT_REFUNDED"],
});
