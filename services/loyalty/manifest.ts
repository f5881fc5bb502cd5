// The loyalty service as data (shared/service-manifest.ts): points per user from the payments.
import { defineService } from "../../shared/service-manifest.ts";

export const loyaltyManifest = defineService({
  name: "loyalty",
  port: 3004,
  consumes: ["PAYMENT_COMPLETED", "PAYMENT_REFUNDED"],
  publishes: [],
  // Not part of the system every test and benchmark runs: `npm start -- --with loyalty`.
  optIn: true,
  // One record per user: points, and per order the stream sequences of the payment events applied.
  nats: { buckets: ["loyaltyPoints"] },
});
