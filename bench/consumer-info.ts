/**
 * What a partition consumer costs nats-server as its backlog grows: fills a stream with ORDER_CREATED
 * sized messages on this system's subjects (`orders.<partition>.<orderId>.<type>`, one order id per
 * subject), then, for a consumer of one partition that is the whole stream behind, measures
 * deliveries + acks (max_ack_pending 1, as the services run) and consumer info requests, each in
 * nats-server CPU from /proc.
 *
 *   node --import tsx bench/consumer-info.ts [--backlogs 10000,40000,160000]
 *
 * BENCHMARKS.md, "Fourth session", quotes it: deliveries cost the same at any depth, a consumer
 * info costs in proportion to the backlog (nats-server 2.9 counts num_pending over the subjects of
 * the backlog). Needs `nats-server` like the bench.
 */
import { parseArgs } from "node:util";
import { DeliverPolicy } from "@nats-io/jetstream";
import { PARTITIONS } from "../nats/subjects.ts";
import { onBareServer, procCpuSeconds } from "./system.ts";
import { addPartitionConsumer, BENCH_CONSUMER, BENCH_STREAM, fillBenchStream } from "./partition-stream.ts";

const { values } = parseArgs({ options: { backlogs: { type: "string", default: "10000,40000,160000" } } });
const INFO_REQUESTS = 50;

for (const backlog of values.backlogs!.split(",").map(Number)) {
  await onBareServer("consumer-info-bench", async ({ server, js, jsm }) => {
    await fillBenchStream(js, jsm, backlog);
    await addPartitionConsumer(jsm, DeliverPolicy.All);

    const cpu = () => procCpuSeconds(server.pid);
    let before = cpu();
    for (let i = 0; i < INFO_REQUESTS; i++) await jsm.consumers.info(BENCH_STREAM, BENCH_CONSUMER);
    const infoMs = ((cpu() - before) / INFO_REQUESTS) * 1e3;

    const deliveries = Math.min(2_000, Math.floor((backlog / PARTITIONS) * 0.9));
    const messages = await (await js.consumers.get(BENCH_STREAM, BENCH_CONSUMER)).consume({ max_messages: 64 });
    before = cpu();
    let n = 0;
    for await (const m of messages) {
      m.ack();
      if (++n >= deliveries) break;
    }
    const deliveryUs = ((cpu() - before) / deliveries) * 1e6;
    console.log(
      `${backlog.toLocaleString("en-US")} messages behind: consumer info ${infoMs.toFixed(1)} ms of server CPU each; ` +
        `delivery + ack ${deliveryUs.toFixed(0)} µs each (${deliveries} of them)`,
    );
  });
}
process.exit(0);
