/**
 * A stream shaped like ORDERS on a bare server, for the benches that measure what nats-server does
 * per partition consumer (consumer-info.ts, caught-up-delivery.ts): subjects
 * `orders.<partition>.<orderId>.ORDER_CREATED`, one order id per subject, ORDER_CREATED-sized
 * bodies, and partition 00's consumer as the services run theirs (max_ack_pending 1).
 */
import { randomUUID } from "node:crypto";
import { AckPolicy, type DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { PARTITIONS } from "../nats/subjects.ts";

export const BENCH_STREAM = "BENCH_ORDERS";
export const BENCH_CONSUMER = "p00";
const BODY = new Uint8Array(295);

/** A subject of its own for a new order of `partition`. */
export const benchSubject = (partition: number) => `orders.${String(partition).padStart(2, "0")}.${randomUUID()}.ORDER_CREATED`;

/** Publishes one message to a new subject of `partition`. */
export const publishToPartition = (js: JetStreamClient, partition: number) => js.publish(benchSubject(partition), BODY);

/** Creates the stream and fills it with `messages` spread over the partitions, 1,000 in flight. */
export async function fillBenchStream(js: JetStreamClient, jsm: JetStreamManager, messages: number): Promise<void> {
  await jsm.streams.add({ name: BENCH_STREAM, subjects: ["orders.*.*.*"] });
  let inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < messages; i++) {
    inFlight.push(publishToPartition(js, i % PARTITIONS));
    if (inFlight.length >= 1_000) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
}

/** Partition 00's durable consumer, configured as the services' partition consumers are. */
export async function addPartitionConsumer(jsm: JetStreamManager, deliverPolicy: DeliverPolicy): Promise<void> {
  await jsm.consumers.add(BENCH_STREAM, {
    durable_name: BENCH_CONSUMER,
    filter_subject: "orders.00.*.*",
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: 1,
    deliver_policy: deliverPolicy,
  });
}
