/**
 * Where an order's latency goes: runs the system (the bundle, as `npm run bench` does), warms it up,
 * offers a fixed rate for a while (after a 3 s lead-in at that rate), then reads the run's events back from ORDERS (`readPhaseEvents`)
 * and prints the percentiles of each hop — ORDER_CREATED's occurredAt → stored, ORDER_CREATED →
 * PAYMENT_COMPLETED, PAYMENT_COMPLETED → SHIPPING_READY (stream times) — and of the whole way.
 *
 *   node --import tsx bench/hops.ts [--rate 200] [--seconds 10] [--rounds 1] [--bundle <path>]…
 *
 * With several `--bundle`s (e.g. builds of two commits), each round runs each of them in turn.
 *
 * BENCHMARKS.md, "How to reproduce", lists it. Needs `nats-server` like the bench.
 */
import { parseArgs } from "node:util";
import { ORDERS_STREAM } from "../nats/subjects.ts";
import { httpLoad, percentile, readPhaseEvents, waitDrained, type OrderTimes } from "./load.ts";
import { startBenchSystem } from "./system.ts";

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "200" },
    seconds: { type: "string", default: "10" },
    rounds: { type: "string", default: "1" },
    bundle: { type: "string", multiple: true },
  },
});
const bundles: (string | undefined)[] = values.bundle ?? [undefined];
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const LEAD_IN_S = 3;

const HOPS: [string, (o: OrderTimes) => number][] = [
  ["occurred → stored", (o) => o.createdMs - o.occurredMs],
  ["ORDER_CREATED → PAYMENT_COMPLETED", (o) => o.paidMs - o.createdMs],
  ["PAYMENT_COMPLETED → SHIPPING_READY", (o) => o.doneMs - o.paidMs],
  ["all the way", (o) => o.doneMs - o.occurredMs],
];

for (let round = 1; round <= Number(values.rounds); round++)
  for (const bundle of bundles) {
    const sys = await startBenchSystem({ label: "hops", bundle });
    try {
      await httpLoad({ url: `${sys.orderUrl}/orders`, rate: 0, durationS: 0, amount: 400, connections: 64 });
      await waitDrained(sys.jsm, 30_000);
      // A lead-in at the rate, as the bench's latency runs have: the measured window starts with
      // every process warm and paced, not with the warm-up's backlog still draining.
      await httpLoad({ url: `${sys.orderUrl}/orders`, rate, durationS: LEAD_IN_S });
      const from = (await sys.jsm.streams.info(ORDERS_STREAM)).state.last_seq + 1;
      const http = await httpLoad({ url: `${sys.orderUrl}/orders`, rate, durationS: seconds });
      await waitDrained(sys.jsm, 60_000);
      const { orders } = await readPhaseEvents(sys.js, sys.jsm, from);
      console.log(
        `round ${round}${bundle ? ` (${bundle})` : ""}: ${orders.length} orders at ${rate}/s for ${seconds} s; HTTP POST p50 ${http.latency.p50.toFixed(1)} / p99 ${http.latency.p99.toFixed(1)} ms`,
      );
      for (const [name, hop] of HOPS) {
        const ms = orders
          .map(hop)
          .filter((x) => !Number.isNaN(x))
          .sort((a, b) => a - b);
        const p = (q: number) => percentile(ms, q).toFixed(1);
        console.log(`  ${name.padEnd(36)} p50 ${p(50)} / p90 ${p(90)} / p99 ${p(99)} / max ${(ms.at(-1) ?? NaN).toFixed(1)} ms`);
      }
    } finally {
      await sys.stop();
    }
  }
process.exit(0);
