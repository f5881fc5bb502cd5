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
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import { onBareServer, procCpuSeconds } from "./system.ts";

const { values } = parseArgs({ options: { fills: { type: "string", default: "0,2000,5000,10000,15000" }, rounds: { type: "string", default: "400" } } });
const PARTITIONS = 16;
const BODY = new Uint8Array(295);
const rounds = Number(values.rounds);
const subject = (partition: number) => `orders.${String(partition).padStart(2, "0")}.${randomUUID()}.ORDER_CREATED`;

for (const fill of values.fills!.split(",").map(Number)) {
  await onBareServer("caught-up-delivery", async ({ server, js, jsm }) => {
    await jsm.streams.add({ name: "BENCH_ORDERS", subjects: ["orders.*.*.*"] });
    let inFlight: Promise<unknown>[] = [];
    for (let i = 0; i < fill; i++) {
      inFlight.push(js.publish(subject(i % PARTITIONS), BODY));
      if (inFlight.length >= 1_000) await Promise.all(inFlight.splice(0));
    }
    await Promise.all(inFlight);
    await jsm.consumers.add("BENCH_ORDERS", {
      durable_name: "p00",
      filter_subject: "orders.00.*.*",
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: 1,
      deliver_policy: DeliverPolicy.New,
    });
    const messages = await (await js.consumers.get("BENCH_ORDERS", "p00")).consume({ max_messages: 64 });
    const iterator = messages[Symbol.asyncIterator]();
    const cpu = () => procCpuSeconds(server.pid);
    /** Server CPU µs per round of publish(es) + delivery + ack. */
    const measure = async (withOther: boolean): Promise<number> => {
      const before = cpu();
      for (let i = 0; i < rounds; i++) {
        const publishes = [js.publish(subject(0), BODY)];
        if (withOther) publishes.push(js.publish(subject(1 + (i % (PARTITIONS - 1))), BODY));
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
