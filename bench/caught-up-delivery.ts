/**
 * What one delivery costs nats-server 2.9 when the partition consumer is caught up — the usual case
 * below capacity — as the stream's last block fills with other orders' subjects. Fills a stream
 * with `--fill` ORDER_CREATED-sized messages spread over the 16 partitions (one order id per
 * subject, as this system writes them), binds a caught-up consumer of one partition
 * (max_ack_pending 1, as the services run), then times rounds of: one message for its partition and
 * one for another (as under load, the stream moves on while a delivery is made), the delivery, the
 * ack; and rounds of the partition's message alone (the delivery then finds the stream at its end).
 * Server CPU from /proc, per round, against the same rounds on an empty stream.
 *
 *   node --import tsx bench/caught-up-delivery.ts [--fills 0,2000,5000,10000,15000] [--rounds 400]
 *
 * Why it grows (nats-server 2.9.10 source): a caught-up consumer's pending count is recomputed at
 * every delivery (consumer.numPending, `npcm == 0`), and for a filter with wildcards that walks every
 * subject of the last block (filestore.filteredPendingLocked) — up to ≈ 15k subjects in an 8 MB
 * block here. 2.10+ keep the count instead. BENCHMARKS.md, "Fifth session", quotes it.
 */
import { parseArgs } from "node:util";
import { DeliverPolicy } from "@nats-io/jetstream";
import { PARTITIONS } from "../nats/subjects.ts";
import { onBareServer, procCpuSeconds } from "./system.ts";
import { addPartitionConsumer, BENCH_CONSUMER, BENCH_STREAM, fillBenchStream, publishToPartition } from "./partition-stream.ts";

const { values } = parseArgs({ options: { fills: { type: "string", default: "0,2000,5000,10000,15000" }, rounds: { type: "string", default: "400" } } });
const rounds = Number(values.rounds);

for (const fill of values.fills!.split(",").map(Number)) {
  await onBareServer("caught-up-delivery", async ({ server, js, jsm }) => {
    await fillBenchStream(js, jsm, fill);
    await addPartitionConsumer(jsm, DeliverPolicy.New);
    const messages = await (await js.consumers.get(BENCH_STREAM, BENCH_CONSUMER)).consume({ max_messages: 64 });
    const iterator = messages[Symbol.asyncIterator]();
    const cpu = () => procCpuSeconds(server.pid);
    /** Server CPU µs per round of publish(es) + delivery + ack. */
    const measure = async (withOther: boolean): Promise<number> => {
      const before = cpu();
      for (let i = 0; i < rounds; i++) {
        const publishes = [publishToPartition(js, 0)];
        if (withOther) publishes.push(publishToPartition(js, 1 + (i % (PARTITIONS - 1))));
        await Promise.all(publishes);
        const next = await iterator.next();
        if (next.done) throw new Error("the consumer stopped");
        next.value.ack();
      }
      return ((cpu() - before) / rounds) * 1e6;
    };
    const alone = await measure(false);
    const withOther = await measure(true);
    messages.stop();
    console.log(
      `last block holding ${fill.toLocaleString("en-US")} other subjects: nats-server CPU per round ${withOther.toFixed(0)} µs ` +
        `with another partition's message stored before the delivery (2 publishes, 1 delivery, 1 ack), ${alone.toFixed(0)} µs without (1 publish); ${rounds} rounds each`,
    );
  });
}
process.exit(0);
