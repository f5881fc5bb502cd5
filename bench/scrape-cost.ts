/**
 * What Prometheus scraping the services costs an order at a steady rate: runs the system (the
 * bundle, as `npm run bench` does), fills the stream with a preload, then alternates phases at a
 * fixed rate with and without a poller that reads every service's `/metrics` every 5 s (compose's
 * Prometheus scrape interval), and prints each phase's POST→SHIPPING_READY percentiles and CPU per
 * order. No drain wait between phases (it would ask the consumers for their infos itself).
 *
 *   node --import tsx bench/scrape-cost.ts [--rate 200] [--seconds 15] [--phases scraped,quiet,…] [--bundle <path>]
 *
 * `--bundle` runs another build (e.g. of an earlier commit) instead of this one's.
 *
 * BENCHMARKS.md, "Fifth session", quotes it. Needs `nats-server` like the bench.
 */
import { parseArgs } from "node:util";
import { ORDERS_STREAM } from "../nats/subjects.ts";
import { httpLoad, percentile, readPhaseEvents, waitDrained } from "./load.ts";
import { procCpuSeconds, startBenchSystem } from "./system.ts";

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "200" },
    seconds: { type: "string", default: "15" },
    preload: { type: "string", default: "500" },
    phases: { type: "string", default: "scraped,quiet,scraped,quiet,scraped,quiet" },
    bundle: { type: "string" },
  },
});
const SCRAPE_EVERY_MS = 5_000;
const sys = await startBenchSystem({ label: "scrape-cost", bundle: values.bundle });
try {
  await httpLoad({ url: `${sys.orderUrl}/orders`, rate: 0, durationS: 0, amount: 400, connections: 64 });
  await waitDrained(sys.jsm, 30_000);
  // Orders enough to fill the stream's last block with subjects (≈ 15k events per 8 MB block).
  await httpLoad({ url: `${sys.orderUrl}/orders`, rate: Number(values.preload), durationS: 15 });
  await waitDrained(sys.jsm, 60_000);
  for (const phase of values.phases!.split(",")) {
    const scraped = phase === "scraped";
    const fromSeq = (await sys.jsm.streams.info(ORDERS_STREAM)).state.last_seq + 1;
    let stop = false;
    const poller = (async () => {
      while (scraped && !stop) {
        await Promise.all(sys.services.map((s) => fetch(`${s.baseUrl}/metrics`).then((r) => r.text())));
        for (let waited = 0; waited < SCRAPE_EVERY_MS && !stop; waited += 100) await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const natsBefore = procCpuSeconds(sys.nats.pid);
    const servicesBefore = sys.services.map((s) => s.cpuSeconds());
    await httpLoad({ url: `${sys.orderUrl}/orders`, rate: Number(values.rate), durationS: Number(values.seconds) });
    stop = true;
    await poller;
    const natsCpu = procCpuSeconds(sys.nats.pid) - natsBefore;
    const servicesCpu = sys.services.reduce((sum, s, i) => sum + s.cpuSeconds() - servicesBefore[i]!, 0);
    await new Promise((r) => setTimeout(r, 3_000));
    const { orders } = await readPhaseEvents(sys.js, sys.jsm, fromSeq);
    const ms = orders.map((o) => o.doneMs - o.occurredMs).filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
    const p = (q: number) => percentile(ms, q).toFixed(1);
    console.log(
      `${scraped ? "scraped every 5 s" : "not scraped      "}: ${orders.length} orders; POST→SHIPPING_READY p50 ${p(50)} / p90 ${p(90)} / p99 ${p(99)} ms; ` +
        `CPU per order: nats-server ${((natsCpu * 1000) / orders.length).toFixed(2)} ms, services ${((servicesCpu * 1000) / orders.length).toFixed(2)} ms`,
    );
  }
} finally {
  await sys.stop();
}
process.exit(0);
