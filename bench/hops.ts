/**
 * Where an order's latency goes: runs the system (the bundle, as `npm run bench` does), warms it up,
 * offers a fixed rate for a while, then reads the run's events back from ORDERS and prints, from the
 * stream's own timestamps, the percentiles of each hop — ORDER_CREATED's occurredAt → stored,
 * ORDER_CREATED → PAYMENT_COMPLETED, PAYMENT_COMPLETED → SHIPPING_READY — and of the whole way.
 *
 *   node --import tsx bench/hops.ts [--rate 200] [--seconds 10] [--rounds 1]
 *
 * BENCHMARKS.md, "Third session", quotes it. Needs `nats-server` like the bench.
 */
import { parseArgs } from "node:util";
import { DeliverPolicy } from "@nats-io/jetstream";
import { ORDERS_STREAM } from "../nats/subjects.ts";
import { httpLoad, percentile, waitDrained } from "./load.ts";
import { startBenchSystem } from "./system.ts";

const { values } = parseArgs({
  options: { rate: { type: "string", default: "200" }, seconds: { type: "string", default: "10" }, rounds: { type: "string", default: "1" } },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);

const HOPS: [string, string, string][] = [
  ["occurred → stored", "occurred", "ORDER_CREATED"],
  ["ORDER_CREATED → PAYMENT_COMPLETED", "ORDER_CREATED", "PAYMENT_COMPLETED"],
  ["PAYMENT_COMPLETED → SHIPPING_READY", "PAYMENT_COMPLETED", "SHIPPING_READY"],
  ["all the way", "occurred", "SHIPPING_READY"],
];

for (let round = 1; round <= Number(values.rounds); round++) {
  const sys = await startBenchSystem({ label: "hops" });
  try {
    await httpLoad({ url: `${sys.orderUrl}/orders`, rate: 0, durationS: 0, amount: 400, connections: 64 });
    await waitDrained(sys.jsm, 30_000);
    const from = (await sys.jsm.streams.info(ORDERS_STREAM)).state.last_seq + 1;
    const http = await httpLoad({ url: `${sys.orderUrl}/orders`, rate, durationS: seconds });
    await waitDrained(sys.jsm, 60_000);
    const end = (await sys.jsm.streams.info(ORDERS_STREAM)).state.last_seq;
    // Per order: each event type's stream time (ms), and ORDER_CREATED's occurredAt as "occurred".
    const times = new Map<string, Record<string, number>>();
    const consumer = await sys.js.consumers.get(ORDERS_STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from });
    const messages = await consumer.consume({ max_messages: 2_000 });
    for await (const m of messages) {
      const [, , orderId, eventType] = m.subject.split(".");
      const order = times.get(orderId!) ?? {};
      order[eventType!] = Number(m.timestampNanos) / 1e6;
      if (eventType === "ORDER_CREATED") order.occurred = Date.parse(m.json<{ occurredAt: string }>().occurredAt);
      times.set(orderId!, order);
      if (m.seq >= end) break;
    }
    messages.stop();
    console.log(`round ${round}: ${times.size} orders at ${rate}/s for ${seconds} s; HTTP POST p50 ${http.latency.p50.toFixed(1)} / p99 ${http.latency.p99.toFixed(1)} ms`);
    for (const [name, from, to] of HOPS) {
      const ms = [...times.values()].filter((t) => t[from] !== undefined && t[to] !== undefined).map((t) => t[to]! - t[from]!).sort((a, b) => a - b);
      const p = (q: number) => percentile(ms, q).toFixed(1);
      console.log(`  ${name.padEnd(36)} p50 ${p(50)} / p90 ${p(90)} / p99 ${p(99)} / max ${(ms.at(-1) ?? NaN).toFixed(1)} ms`);
    }
  } finally {
    await sys.stop();
  }
}
process.exit(0);
