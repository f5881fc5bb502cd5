/**
 * What nats-server's memory holds per distinct subject of a stream (BENCHMARKS.md, "Soak"): the
 * same number of 300-byte messages stored twice on a fresh server each, all on one subject, then
 * each on a subject of its own shaped like an order event's, and the server's RSS after each.
 *
 *   node --import tsx bench/subject-index.ts [--messages 300000]
 */
import { parseArgs } from "node:util";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { startNatsServer } from "../test/support/nats-server.ts";
import { connectNats } from "../nats/connect.ts";
import { procStatusMiB } from "./system.ts";

const { values } = parseArgs({ options: { messages: { type: "string", default: "300000" } } });
const N = Number(values.messages);
if (!(N >= 1000)) throw new Error(`--messages must be a number of at least 1000, got ${JSON.stringify(values.messages)}`);
const IN_FLIGHT = 1_000;
/** Past the file store's cache of recently written blocks, so what remains is the index. */
const SETTLE_MS = 12_000;
const body = new Uint8Array(300).fill(65);
const subject = (mode: "one" | "unique", i: number) =>
  mode === "one" ? "x.0.order.ORDER_CREATED" : `x.${i % 16}.ord-${i.toString(36).padStart(12, "0")}-000000000000.ORDER_CREATED`;

for (const mode of ["one", "unique"] as const) {
  const server = await startNatsServer();
  try {
    const nc = await connectNats({ servers: [server.url], name: "bench-subject-index", failFast: true });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "S", subjects: ["x.>"] });
    const js = jetstream(nc);
    const before = procStatusMiB(server.pid, "VmRSS");
    for (let i = 0; i < N; i += IN_FLIGHT) {
      const acks: Promise<unknown>[] = [];
      for (let j = i; j < Math.min(N, i + IN_FLIGHT); j++) acks.push(js.publish(subject(mode, j), body));
      await Promise.all(acks);
    }
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const info = await jsm.streams.info("S");
    const after = procStatusMiB(server.pid, "VmRSS");
    console.log(
      `${mode === "one" ? "one subject   " : "unique subjects"}: ${N.toLocaleString("en-US")} messages, ${(info.state.num_subjects ?? NaN).toLocaleString("en-US")} subjects, ` +
        `${(info.state.bytes / 2 ** 20).toFixed(1)} MiB stored; nats-server RSS ${before.toFixed(0)} → ${after.toFixed(0)} MiB ` +
        `(${(((after - before) * 2 ** 20) / N).toFixed(0)} B per message)`,
    );
    await nc.close();
  } finally {
    await server.stop();
  }
}
process.exit(0);
