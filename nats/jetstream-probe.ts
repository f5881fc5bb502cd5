/**
 * The round trips readiness is made of (host/readiness.ts): a PING to the server the connection is
 * on, the ORDERS stream's info (answered only when JetStream can serve it: a stream without a leader
 * in a cluster answers an error or nothing), and the account's storage from the account info. All
 * go to the connected server's own JetStream (`$JS.API`, no domain), so at an edge site readiness
 * depends on the local leaf server only.
 */
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { errors, type NatsConnection } from "@nats-io/transport-node";
import { ORDERS_STREAM } from "./subjects.ts";

/** Account storage as JetStream counts it; `limit` 0 when the account has none (the server's max_file_store may still bind). */
export interface StoreUsage {
  used: number;
  limit: number;
}

export interface JetStreamProbe {
  /** PING/PONG with the server; rejects with a TimeoutError when no PONG came within the timeout. */
  ping(): Promise<void>;
  /** The ORDERS stream's info; rejects when JetStream did not answer, or answered that it cannot serve it. */
  ordersStream(): Promise<void>;
  /** The account's file storage used and its limit. */
  storeUsage(): Promise<StoreUsage>;
}

/** A probe on `nc` whose every round trip gives up after `timeoutMs`. */
export async function createJetStreamProbe(nc: NatsConnection, timeoutMs: number): Promise<JetStreamProbe> {
  const jsm: JetStreamManager = await jetstreamManager(nc, { timeout: timeoutMs, checkAPI: false });
  return {
    async ping() {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          nc.flush(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new errors.TimeoutError()), timeoutMs);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
    async ordersStream() {
      await jsm.streams.info(ORDERS_STREAM);
    },
    async storeUsage() {
      const info = await jsm.getAccountInfo();
      return { used: info.storage, limit: Math.max(0, info.limits.max_storage ?? 0) };
    },
  };
}
