/**
 * Up to which rate every span reaches the collector: the system with every span sampled, exporting
 * to bench/otlp-sink.ts, offered steady rates in turn (10 s each); per rate, the spans received per
 * order against the 10 a happy order makes, whether the pipeline drained, and the services' CPU per
 * order. Past the rate the machine can carry, the batch span processor drops spans rather than slow
 * the services (BENCHMARKS.md, "Settings decided by measurement").
 *
 *   node --import tsx bench/span-export.ts [--rates 1000,1300,1600,1700] [--seconds 10] [--service-env KEY=VALUE]…
 *       [--node-args='<flags instead of SERVICE_NODE_ARGS>']
 *
 * Needs `nats-server` like the bench.
 */
import { parseArgs } from "node:util";
import { ORDERS_STREAM } from "../nats/subjects.ts";
import { spanCount } from "../test/support/trace-shape.ts";
import { httpLoad, streamMessages, waitDrained } from "./load.ts";
import { startOtlpSink } from "./otlp-sink.ts";
import { envAssignment, startBenchSystem } from "./system.ts";

const { values } = parseArgs({
  options: {
    rates: { type: "string", default: "1000,1300,1600,1700" },
    seconds: { type: "string", default: "10" },
    "service-env": { type: "string", multiple: true, default: [] },
    "node-args": { type: "string" },
  },
});
const rates = values.rates.split(",").map(Number);
const seconds = Number(values.seconds);
const HAPPY_ORDER_SPANS = spanCount(["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"]);
/** The batch span processor's schedule (5 s) and a bit: what was queued has reached the sink. */
const EXPORT_WAIT_MS = 5_500;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

const sink = await startOtlpSink();
const sys = await startBenchSystem({
  label: "spans",
  nodeArgs: values["node-args"]?.split(" ").filter(Boolean),
  env: {
    OTEL_TRACES_SAMPLER: "always_on",
    // After the default: `--service-env OTEL_TRACES_SAMPLER=orderstream_outcome` measures sampling by outcome.
    ...Object.fromEntries(values["service-env"].map(envAssignment)),
    OTEL_TRACES_EXPORTER: "otlp",
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
  },
});
try {
  await httpLoad({ url: sys.orderUrl, rate: 0, durationS: 0, amount: 1_000, connections: 64 }); // JIT warm-up
  await waitDrained(sys.jsm, 20_000);
  await wait(EXPORT_WAIT_MS);
  for (const rate of rates) {
    const spansBefore = sink.stats().spans;
    const ordersBefore = (await streamMessages(sys.jsm, ORDERS_STREAM)).messages / 3;
    const cpuBefore = sys.services.reduce((n, s) => n + s.cpuSeconds(), 0) + sys.natsCpuSeconds();
    await httpLoad({ url: sys.orderUrl, rate, durationS: seconds });
    const drain = await waitDrained(sys.jsm, 30_000);
    const cpu = sys.services.reduce((n, s) => n + s.cpuSeconds(), 0) + sys.natsCpuSeconds() - cpuBefore;
    await wait(EXPORT_WAIT_MS);
    const orders = (await streamMessages(sys.jsm, ORDERS_STREAM)).messages / 3 - ordersBefore;
    const perOrder = (sink.stats().spans - spansBefore) / orders;
    console.log(
      `${rate} orders/s offered: ${orders} orders, ${drain.drained ? `drained ${Math.round(drain.ms)} ms after` : "NOT drained"}; ` +
        `${perOrder.toFixed(2)} of ${HAPPY_ORDER_SPANS} spans per order; ${((cpu * 1000) / orders).toFixed(2)} CPU ms per order (services + nats-server)`,
    );
  }
} finally {
  await sys.stop();
  await sink.close();
}
