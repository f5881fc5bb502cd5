/**
 * Lanes replacing the per-partition consumers of an earlier version (nats/setup.ts
 * ensurePartitionConsumers) against a real nats-server: each lane starts after the lowest
 * acknowledged floor among its partitions' old consumers, so no event any of them had not finished is
 * skipped; the old consumers are deleted; a second start changes nothing; a fresh system gets lanes
 * delivering from the start.
 */
import { AckPolicy } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { useNatsServer } from "../test/support/use-nats-server.ts";
import { partitionConsumerConfig } from "./definitions.ts";
import { ensureOrderStreams, ensurePartitionConsumers, LaneCountError } from "./setup.ts";
import {
  CONSUMED_EVENT_TYPES,
  consumerName,
  consumerNames,
  LANES,
  lanePartitions,
  laneOf,
  ORDERS_STREAM,
  OWNER_GROUP,
  PARTITIONS,
  partitionConsumerNames,
} from "./subjects.ts";

const nats = useNatsServer();

/** Every stream sequence a consumer delivers until it has nothing pending (bounded). */
async function drain(name: string): Promise<number[]> {
  const consumer = await nats.js.consumers.get(ORDERS_STREAM, name);
  const seqs: number[] = [];
  for (let round = 0; round < 50; round++) {
    const batch = await consumer.fetch({ group: OWNER_GROUP, max_messages: 100, expires: 1_000 });
    let got = 0;
    for await (const m of batch) {
      seqs.push(m.seq);
      m.ack();
      got++;
    }
    if (got === 0) break;
  }
  return seqs;
}

describe("lanes replacing per-partition consumers", () => {
  it("start each lane after its partitions' lowest floor, delete the old consumers, and change nothing the second time", async () => {
    await ensureOrderStreams(nats.jsm, 1);
    // Three ORDER_CREATED per partition, in partition order: partition p holds sequences 3p+1..3p+3.
    for (let round = 0; round < 3; round++) {
      for (let p = 0; p < PARTITIONS; p++) await nats.js.publish(`orders.${p}.o${p}-${round}.ORDER_CREATED`, "{}");
    }
    // An earlier version's consumers: one per partition, each filtered to its partition.
    const old = partitionConsumerNames("payment");
    for (let p = 0; p < PARTITIONS; p++) {
      await nats.jsm.consumers.add(ORDERS_STREAM, {
        ...partitionConsumerConfig("payment", 0),
        durable_name: old[p]!,
        description: `payment service, partition ${p}`,
        filter_subjects: CONSUMED_EVENT_TYPES.payment.map((t) => `orders.${p}.*.${t}`),
      });
    }
    // Partition p's consumer finished p mod 4 of its 3 events (0 to 3: the last one finished them all).
    const finished = (p: number) => p % 4;
    const handled = new Set<number>();
    for (let p = 0; p < PARTITIONS; p++) {
      const consumer = await nats.js.consumers.get(ORDERS_STREAM, old[p]!);
      if (finished(p) === 0) continue;
      const batch = await consumer.fetch({ group: OWNER_GROUP, max_messages: finished(p), expires: 1_000 });
      const taken = [];
      for await (const m of batch) taken.push(m);
      expect(taken).toHaveLength(finished(p));
      for (const m of taken) handled.add(m.seq);
      taken.at(-1)!.ack(); // ack policy all: one ack settles them
      await taken.at(-1)!.ackAck();
    }

    await ensurePartitionConsumers(nats.jsm, ORDERS_STREAM, "payment");

    const names = (await nats.jsm.consumers.list(ORDERS_STREAM).next()).map((c) => c.name).sort();
    expect(names).toEqual(consumerNames("payment").sort());
    const floors = (lane: number) => lanePartitions(lane).map((p) => (finished(p) === 0 ? 0 : p + 1 + (finished(p) - 1) * PARTITIONS));
    const delivered = new Set<number>();
    for (let lane = 0; lane < LANES; lane++) {
      const info = await nats.jsm.consumers.info(ORDERS_STREAM, consumerName("payment", lane));
      expect(info.config.ack_policy).toBe(AckPolicy.All);
      expect(info.config.opt_start_seq, `lane ${lane}`).toBe(Math.min(...floors(lane)) + 1);
      for (const seq of await drain(consumerName("payment", lane))) {
        const subject = (await nats.jsm.streams.getMessage(ORDERS_STREAM, { seq }))!.subject;
        expect(laneOf(Number(subject.split(".")[1])), subject).toBe(lane);
        delivered.add(seq);
      }
    }
    // Nothing the old consumers had not finished is skipped.
    const all = Array.from({ length: 3 * PARTITIONS }, (_, i) => i + 1);
    for (const seq of all) if (!handled.has(seq)) expect(delivered.has(seq), `seq ${seq}`).toBe(true);

    // A second start (another instance, a restart) keeps the lanes as they are.
    const created = await Promise.all(consumerNames("payment").map(async (n) => (await nats.jsm.consumers.info(ORDERS_STREAM, n)).created));
    await ensurePartitionConsumers(nats.jsm, ORDERS_STREAM, "payment");
    expect(await Promise.all(consumerNames("payment").map(async (n) => (await nats.jsm.consumers.info(ORDERS_STREAM, n)).created))).toEqual(
      created,
    );
  });

  it("gives a service with no earlier consumers lanes that deliver from the start", async () => {
    await ensurePartitionConsumers(nats.jsm, ORDERS_STREAM, "shipping");
    let total = 0;
    for (let lane = 0; lane < LANES; lane++) {
      const info = await nats.jsm.consumers.info(ORDERS_STREAM, consumerName("shipping", lane));
      expect(info.config.deliver_policy).toBe("all");
      total += info.num_pending;
    }
    // Shipping acts on ORDER_CREATED too: every one of them is pending on some lane.
    expect(total).toBe(3 * PARTITIONS);
  });

  it("makes as many lanes as LANES asks, and refuses an instance set to another count", async () => {
    await ensurePartitionConsumers(nats.jsm, ORDERS_STREAM, "notification", { kind: "single" }, 2);
    const names = (await nats.jsm.consumers.list(ORDERS_STREAM).next()).map((c) => c.name).filter((n) => n.startsWith("notification-"));
    expect(names.sort()).toEqual(["notification-lane0", "notification-lane1"]);
    let total = 0;
    for (let lane = 0; lane < 2; lane++) {
      const info = await nats.jsm.consumers.info(ORDERS_STREAM, consumerName("notification", lane));
      expect(info.config.filter_subjects).toHaveLength(PARTITIONS / 2);
      total += info.num_pending;
    }
    expect(total).toBe(3 * PARTITIONS);
    // The same count again is a restart: fine. Another count would deliver partitions twice: refused, nothing changed.
    await ensurePartitionConsumers(nats.jsm, ORDERS_STREAM, "notification", { kind: "single" }, 2);
    for (const other of [1, 4, 16]) {
      await expect(ensurePartitionConsumers(nats.jsm, ORDERS_STREAM, "notification", { kind: "single" }, other)).rejects.toThrow(
        new LaneCountError("notification", 2, other),
      );
    }
    const after = (await nats.jsm.consumers.list(ORDERS_STREAM).next()).map((c) => c.name).filter((n) => n.startsWith("notification-"));
    expect(after.sort()).toEqual(["notification-lane0", "notification-lane1"]);
  });
});
