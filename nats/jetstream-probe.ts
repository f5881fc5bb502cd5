/**
 * The round trips readiness is made of (host/readiness.ts): a PING to the server the connection is
 * on, the ORDERS stream's info, and the account's storage from the account info. All go to the
 * connected server's own JetStream (`$JS.API`, no domain), so at an edge site readiness depends on
 * the local leaf server only.
 *
 * An answer to the stream info is not enough: once a replicated stream has been without a leader for
 * a few seconds, a surviving replica answers it from its own copy, with no error and an empty
 * `cluster.leader`; a leader left alone still names itself for ~20 s while its writes time out
 * (measured on nats-server 2.15.3, two of three nodes SIGKILLed: test/cluster.int.spec.ts). Only a
 * leader with a majority of current replicas takes writes, so that is the check, read from the same
 * answer; a single server (a site's leaf server too) names itself leader of its one replica.
 */
import { jetstreamManager, type JetStreamManager, type StreamInfo } from "@nats-io/jetstream";
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
  /** The ORDERS stream's info; rejects when JetStream did not answer, answered an error, or answered that the stream cannot take writes (no leader, or no quorum). */
  ordersStream(): Promise<void>;
  /** The account's file storage used and its limit. */
  storeUsage(): Promise<StoreUsage>;
}

/** The stream's info was answered, but no leader with a majority of replicas behind it: it cannot take writes. */
export class StreamNotWritableError extends Error {
  constructor(
    readonly stream: string,
    /** The leader the answer names; empty when the stream has none. */
    readonly leader: string,
    /** Replicas the answer does not count as current (down, cut off, or behind). */
    readonly notCurrent: string[],
  ) {
    super(
      `the ${stream} stream ${leader ? `has lost its quorum (leader ${leader})` : "has no leader"}, so it cannot take writes` +
        (notCurrent.length ? ` (replicas not current: ${notCurrent.join(", ")})` : "") +
        "; it takes writes again once a majority of its replicas' nats-servers are up and routed to each other",
    );
    this.name = "StreamNotWritableError";
  }
}

/**
 * Throws StreamNotWritableError unless the stream info names a leader and, counting it, a majority
 * of the stream's replicas is current (a leader cut off from the others keeps its title for up to
 * ~20 s, but its writes time out; its peers stop being current after ~10 s).
 */
export function assertStreamWritable(info: Pick<StreamInfo, "config" | "cluster">): void {
  const leader = info.cluster?.leader ?? "";
  const replicas = info.cluster?.replicas ?? [];
  const current = replicas.filter((r) => r.current && !r.offline && r.name !== leader).length + (leader ? 1 : 0);
  const quorum = Math.floor(Math.max(1, info.config.num_replicas || 1) / 2) + 1;
  if (leader && current >= quorum) return;
  const notCurrent = replicas.filter((r) => !r.current || r.offline).map((r) => r.name);
  throw new StreamNotWritableError(info.config.name, leader, notCurrent);
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
      assertStreamWritable(await jsm.streams.info(ORDERS_STREAM));
    },
    async storeUsage() {
      const info = await jsm.getAccountInfo();
      return { used: info.storage, limit: Math.max(0, info.limits.max_storage ?? 0) };
    },
  };
}
