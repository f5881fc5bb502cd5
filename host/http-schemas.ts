/** The answers of the routes every service has (/healthz, /readyz), as valibot schemas: the OpenAPI documents are generated from them. */
import * as v from "valibot";
import { SERVICES } from "../shared/services.ts";
import { ASYNCAPI_VERSION } from "../nats/asyncapi.ts";

export const HealthBody = v.object({
  status: v.literal("ok"),
  service: v.picklist(SERVICES),
});
export type Health = v.InferOutput<typeof HealthBody>;

const CheckBody = v.object({
  ok: v.boolean(),
  since: v.pipe(v.string(), v.description("When the check last changed (ISO 8601).")),
  detail: v.optional(v.pipe(v.string(), v.description("What failed, while it fails."))),
});

export const ReadinessBody = v.object({
  status: v.picklist(["ready", "not ready"]),
  nats: v.pipe(
    v.picklist(["connected", "disconnected"]),
    v.description("Whether the NATS server answered the last PING (not the client's connection state)."),
  ),
  checks: v.optional(
    v.pipe(
      v.object({ nats: CheckBody, jetstream: CheckBody, consumers: CheckBody, store: CheckBody }),
      v.description(
        "Each check of the background probe (absent before the first connection); `store` gates readiness on the order service only.",
      ),
    ),
  ),
});
export type Readiness = v.InferOutput<typeof ReadinessBody>;

export const AsyncApiBody = v.pipe(
  v.object({ asyncapi: v.literal(ASYNCAPI_VERSION) }),
  v.description(
    "The service's AsyncAPI 3.0 document: channels (NATS subjects), messages (the event schemas), its send and receive operations.",
  ),
);
