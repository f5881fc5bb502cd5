/**
 * A service instance's share of the lanes: it joins its service's instances (heartbeats in the
 * instances bucket, see partition-owners.ts), runs a PartitionWorker for each lane it is
 * assigned, and hands a lane over when the assignment moves it elsewhere (an instance joined)
 * or takes one over when its owner left or died. Per-order order across instances comes from the
 * server pinning each lane's consumer to one puller; the assignment only spreads the work.
 */
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { Logger } from "../shared/logger.ts";
import { defaultRetryDelayMs, type GiveUp, type HandledReport, type HandlerFactory } from "./delivery.ts";
import type { CrashSuspects } from "./crash-suspects.ts";
import { joinPartitionOwners, type PartitionOwners } from "./partition-owners.ts";
import { PartitionWorker, type WorkerStats } from "./partition-worker.ts";
import type { ServiceName } from "./subjects.ts";
import type { Topology } from "../shared/config.ts";

export interface PartitionedConsumerOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** The instances bucket (BUCKETS.instances). */
  instances: KV;
  service: ServiceName;
  instanceId: string;
  /** Makes each partition's handler (its memory of orders lives as long as the worker). */
  handlers: HandlerFactory;
  log: Logger;
  giveUp?: GiveUp;
  /** Where deaths while handling a suspect message are counted (nats/crash-suspects.ts). */
  suspects?: CrashSuspects;
  /** Deaths while handling one message before it is dead-lettered (CRASH_LIMIT). */
  crashLimit?: number;
  /** Pause before another attempt at a failed event, by attempts made. */
  retryDelayMs?: (attempt: number) => number;
  onHandled?: (report: HandledReport) => void;
  /** What the instance's heartbeat tells operators besides its partitions. */
  describe?: () => Record<string, unknown>;
  /** Which subject forms the consumers hold (sites); default single-site. */
  topology?: Topology;
  /** The service's lane count (LANES setting; default nats/subjects.ts LANES). */
  lanes?: number;
}

export interface RunningConsumers {
  /** Partitions this instance owns now. */
  owned(): number[];
  /** Its workers' view of their consumers. */
  stats(): WorkerStats[];
  /** Leaves the group, lets the workers finish what they took, and hands their partitions over. */
  stop(): Promise<void>;
}

/** Joins the service's instances and runs the lanes assigned here; resolves once they are bound. */
export async function startPartitionedConsumers(opts: PartitionedConsumerOptions): Promise<RunningConsumers> {
  const workers = new Map<number, PartitionWorker>();
  let stopping = false;
  // Assignment changes are applied one at a time, in the order they came.
  let applying: Promise<void> = Promise.resolve();
  const apply = (owned: ReadonlySet<number>): Promise<void> => {
    applying = applying.then(async () => {
      if (stopping) return;
      const leaving = [...workers].filter(([p]) => !owned.has(p));
      await Promise.all(
        leaving.map(async ([p, worker]) => {
          workers.delete(p);
          await worker.stop(true);
        }),
      );
      const joining = [...owned].filter((p) => !workers.has(p));
      await Promise.all(
        joining.map(async (lane) => {
          const worker = new PartitionWorker({
            js: opts.js,
            jsm: opts.jsm,
            service: opts.service,
            lane,
            handler: opts.handlers(),
            log: opts.log,
            giveUp: opts.giveUp,
            suspects: opts.suspects,
            crashLimit: opts.crashLimit,
            retryDelayMs: opts.retryDelayMs ?? ((n) => defaultRetryDelayMs(n)),
            onHandled: opts.onHandled,
            topology: opts.topology,
            lanes: opts.lanes,
          });
          workers.set(lane, worker);
          try {
            await worker.start();
          } catch (err) {
            workers.delete(lane);
            throw err;
          }
        }),
      );
    });
    return applying;
  };

  let first: Promise<void> | undefined;
  const owners: PartitionOwners = await joinPartitionOwners({
    kv: opts.instances,
    service: opts.service,
    instanceId: opts.instanceId,
    log: opts.log,
    describe: opts.describe,
    lanes: opts.lanes,
    onChange: (owned) => {
      const done = apply(owned);
      if (first === undefined) first = done;
      else done.catch((err) => opts.log.error({ err }, "could not take over lanes; will try at the next change"));
    },
  });
  await first;

  return {
    owned: () => [...workers.keys()].sort((a, b) => a - b),
    stats: () => [...workers.values()].map((w) => w.stats()),
    async stop() {
      await owners.leave();
      await applying.catch(() => {});
      stopping = true;
      await Promise.all([...workers.values()].map((w) => w.stop(true)));
      workers.clear();
    },
  };
}
