/** What the order service's routes and handlers are given once NATS is there. */
import type { KV } from "@nats-io/kv";
import type { Infra } from "../../host/service-definition.ts";

export interface OrderRuntime {
  infra: Infra;
  /** The `idempotency-keys` bucket of POST /orders. */
  idempotencyKeys: KV;
}
