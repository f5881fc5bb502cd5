/**
 * Replay: moves durable consumers back to a stream sequence (or time) by recreating them there.
 * A JetStream consumer's start point is fixed at creation, so "move" means delete and add with the
 * same name and config but `deliver_policy: by_start_sequence`. Running instances keep their pull
 * loops: the client sees the consumer vanish and re-pulls once it exists again. Handlers skip what
 * they already applied (the per-order sequence fence) and publishes are guarded, so a replay
 * changes no outcome already reached.
 */
import { DeliverPolicy, type ConsumerConfig, type JetStreamManager } from "@nats-io/jetstream";
import { consumerName, consumerNames, isServiceName, laneOfConsumer, ORDERS_STREAM } from "./subjects.ts";

export type ReplayStart = { fromSeq: number } | { fromTime: Date };

/**
 * Resolves a `--consumer` argument: a durable name, or a service name for all its lane consumers —
 * those on the server, whatever the service's lane count (none yet: the default count's names).
 */
export async function consumersFor(jsm: JetStreamManager, nameOrService: string): Promise<string[]> {
  if (!isServiceName(nameOrService)) return [nameOrService];
  const lanes: number[] = [];
  for await (const info of jsm.consumers.list(ORDERS_STREAM)) {
    const lane = laneOfConsumer(nameOrService, info.name);
    if (lane !== null) lanes.push(lane);
  }
  if (lanes.length === 0) return consumerNames(nameOrService);
  return lanes.sort((a, b) => a - b).map((lane) => consumerName(nameOrService, lane));
}

export async function replayConsumer(jsm: JetStreamManager, name: string, start: ReplayStart): Promise<ConsumerConfig> {
  const info = await jsm.consumers.info(ORDERS_STREAM, name);
  const config: Partial<ConsumerConfig> = { ...info.config };
  delete config.opt_start_seq;
  delete config.opt_start_time;
  if ("fromSeq" in start) {
    config.deliver_policy = DeliverPolicy.StartSequence;
    config.opt_start_seq = start.fromSeq;
  } else {
    config.deliver_policy = DeliverPolicy.StartTime;
    config.opt_start_time = start.fromTime.toISOString();
  }
  await jsm.consumers.delete(ORDERS_STREAM, name);
  const created = await jsm.consumers.add(ORDERS_STREAM, config);
  return created.config;
}
