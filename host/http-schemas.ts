/** The answers of the routes every service has (/healthz, /readyz), as valibot schemas: the OpenAPI documents are generated from them. */
import * as v from "valibot";
import { SERVICES } from "../shared/services.ts";

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
