/** The answers of the routes every service has (/healthz, /readyz), as valibot schemas: the OpenAPI documents are generated from them. */
import * as v from "valibot";
import { SERVICES } from "../shared/services.ts";
import { ASYNCAPI_VERSION } from "../nats/asyncapi.ts";

export const HealthBody = v.object({
  status: v.literal("ok"),
  service: v.picklist(SERVICES),
});
export type Health = v.InferOutput<typeof HealthBody>;

export const ReadinessBody = v.object({
  status: v.picklist(["ready", "not ready"]),
  nats: v.picklist(["connected", "disconnected"]),
});
export type Readiness = v.InferOutput<typeof ReadinessBody>;

export const AsyncApiBody = v.pipe(
  v.object({ asyncapi: v.literal(ASYNCAPI_VERSION) }),
  v.description("The service's AsyncAPI 3.0 document: channels (NATS subjects), messages (the event schemas), its send and receive operations."),
);
