// The lane consumers on ORDERS as a system test sees them: the ones that exist, and the wait until
// they have handed out, and had acknowledged, everything there is — the point where what a test
// reads back (views, notifications, webhook calls, counters) has settled.
import type { ConsumerInfo, JetStreamManager } from "@nats-io/jetstream";
import { consumerNames, DEFAULT_SERVICES, ORDERS_STREAM, type ServiceName } from "../../nats/subjects.ts";
import { waitUntil } from "./processes.ts";

/** The lane consumers of `services` (default: the services every system runs) that exist on ORDERS. */
export async function laneConsumers(jsm: JetStreamManager, services: readonly ServiceName[] = DEFAULT_SERVICES): Promise<ConsumerInfo[]> {
  const names = new Set(services.flatMap((s) => consumerNames(s)));
  const list = await jsm.consumers.list(ORDERS_STREAM).next();
  return list.filter((c) => names.has(c.name));
}

export interface IdleLanesOptions {
  /** Whose lane consumers; default the services every system runs. */
  services?: readonly ServiceName[];
  /** Default 30 s. */
  timeoutMs?: number;
  /** Default 200 ms. */
  intervalMs?: number;
}

/**
 * Waits until every lane consumer of the services exists and has nothing pending or unacknowledged
 * (bounded by `timeoutMs`; the error names whose consumers were not idle).
 *
 * @example
 * await waitForIdleLanes(jsm, { services: ["payment"], timeoutMs: 15_000 });
 */
export async function waitForIdleLanes(jsm: JetStreamManager, options: IdleLanesOptions = {}): Promise<void> {
  const services = options.services ?? DEFAULT_SERVICES;
  const expected = services.reduce((n, s) => n + consumerNames(s).length, 0);
  await waitUntil(
    async () => {
      const list = await laneConsumers(jsm, services);
      return list.length === expected && list.every((c) => c.num_pending === 0 && c.num_ack_pending === 0);
    },
    {
      timeoutMs: options.timeoutMs ?? 30_000,
      intervalMs: options.intervalMs ?? 200,
      what: `the lane consumers of ${services.join(", ")} to be idle`,
    },
  );
}
