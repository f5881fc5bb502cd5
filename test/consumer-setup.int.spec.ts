/**
 * What a service does at start to the partition consumers it finds: made by this version, nothing;
 * made with other limits (an earlier max_ack_pending), updated in place; made by an earlier
 * version with another ack policy, replaced by one that starts after the old one's ack floor —
 * nothing handled is handed out again, nothing unhandled skipped. Against a real nats-server.
 */
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import { beforeAll, describe, expect, it } from "vitest";
import { useNatsServer } from "./support/use-nats-server.ts";
import { MAX_ACK_PENDING, ordersStreamConfig, partitionConsumerConfig } from "../nats/definitions.ts";
import { ensurePartitionConsumer, ensureStream } from "../nats/setup.ts";
import { ORDERS_STREAM } from "../nats/subjects.ts";

const nats = useNatsServer();

beforeAll(() => ensureStream(nats.jsm, ordersStreamConfig(1)));

describe("ensurePartitionConsumer", () => {
  it("creates the consumer, and leaves one of the right shape and limits as it is", async () => {
    const wanted = partitionConsumerConfig("payment", 0);
    await ensurePartitionConsumer(nats.jsm, ORDERS_STREAM, wanted);
    const first = await nats.jsm.consumers.info(ORDERS_STREAM, wanted.durable_name);
    await ensurePartitionConsumer(nats.jsm, ORDERS_STREAM, wanted);
    const again = await nats.jsm.consumers.info(ORDERS_STREAM, wanted.durable_name);
    expect(again.created).toBe(first.created);
    expect(again.config.max_ack_pending).toBe(MAX_ACK_PENDING);
  });

  it("updates the limits of one made with others (max_ack_pending of an earlier version) in place", async () => {
    const wanted = partitionConsumerConfig("payment", 1);
    await nats.jsm.consumers.add(ORDERS_STREAM, { ...wanted, max_ack_pending: 1_000 });
    const before = await nats.jsm.consumers.info(ORDERS_STREAM, wanted.durable_name);
    await ensurePartitionConsumer(nats.jsm, ORDERS_STREAM, wanted);
    const after = await nats.jsm.consumers.info(ORDERS_STREAM, wanted.durable_name);
    expect(after.config.max_ack_pending).toBe(MAX_ACK_PENDING);
    expect(after.created).toBe(before.created); // the same consumer: its delivery state is kept
  });

  it("replaces one with another ack policy by one starting after its ack floor", async () => {
    const wanted = partitionConsumerConfig("payment", 2);
    const subject = (wanted.filter_subjects ?? [])[0]!.replace("*", "00000000-0000-4000-8000-000000000002");
    for (let i = 0; i < 3; i++) await nats.js.publish(subject, `{"n":${i}}`);
    await nats.jsm.consumers.add(ORDERS_STREAM, {
      durable_name: wanted.durable_name,
      filter_subjects: wanted.filter_subjects,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
    });
    const old = await nats.js.consumers.get(ORDERS_STREAM, wanted.durable_name);
    const m = await old.next({ expires: 2_000 });
    expect(m).not.toBeNull();
    await m!.ackAck();
    const floor = (await nats.jsm.consumers.info(ORDERS_STREAM, wanted.durable_name)).ack_floor.stream_seq;
    expect(floor).toBeGreaterThan(0);

    await ensurePartitionConsumer(nats.jsm, ORDERS_STREAM, wanted);
    const now = await nats.jsm.consumers.info(ORDERS_STREAM, wanted.durable_name);
    expect(now.config.ack_policy).toBe(AckPolicy.All);
    expect(now.config.opt_start_seq).toBe(floor + 1);
    expect(now.num_pending).toBe(2); // the two not yet handled, and not the one that was
  });
});
