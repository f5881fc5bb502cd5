// The shipping service as data (shared/service-manifest.ts): prepares the shipment of a paid order.
import { defineService } from "../../shared/service-manifest.ts";

export const shippingManifest = defineService({
  name: "shipping",
  port: 3002,
  // ORDER_CREATED for the items; ORDER_CANCEL_REQUESTED so that a cancel that came first wins.
  consumes: ["ORDER_CREATED", "ORDER_CANCEL_REQUESTED", "PAYMENT_COMPLETED"],
  publishes: ["SHIPPING_READY", "SHIPPING_FAILED"],
});
