// The notification service as data (shared/service-manifest.ts): one notification per order event.
import { EVENT_TYPES } from "../../shared/events.ts";
import { defineService } from "../../shared/service-manifest.ts";

export const notificationManifest = defineService({
  name: "notification",
  port: 3003,
  consumes: EVENT_TYPES,
  // It records notifications in a stream of its own, and publishes no order event.
  publishes: [],
  nats: { streams: ["notifications"] },
});
