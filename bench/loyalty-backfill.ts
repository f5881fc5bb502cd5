/**
 * The loyalty service's backfill: ORDERS filled with synthetic happy orders (bench/replay.ts `fill`:
 * 3 events each, one PAYMENT_COMPLETED of 25.50 per order, 100 users), then loyalty started as a
 * process with no consumers yet; timed until its 16 consumers have delivered and acknowledged
 * everything, and checked: every user's points are 25 per order of theirs.
 *
 *   node --import tsx bench/loyalty-backfill.ts [orders=3000]
 */
import { performance } from "node:perf_hooks";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { ensureOrderStreams } from "../nats/setup.ts";
import { consumerNames, ORDERS_STREAM } from "../nats/subjects.ts";
import { startNatsServer } from "../test/support/nats-server.ts";
import { startService, waitUntil } from "../test/support/processes.ts";
import { fill } from "./replay.ts";

const orders = Number(process.argv[2] ?? 3000);
const USERS = 100;
const nats = await startNatsServer();
const nc = await connect({ servers: nats.url });
try {
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  await ensureOrderStreams(jsm, 1);
  const filled = await fill(js, orders);
  const started = performance.now();
  const loyalty = await startService(
    "loyalty",
    { NATS_URL: nats.url, LOG_LEVEL: "warn", OTEL_TRACES_EXPORTER: "none" },
    { readyTimeoutMs: 60_000 },
  );
  const ready = performance.now();
  try {
    await waitUntil(
      async () => {
        const infos = await Promise.all(consumerNames("loyalty").map((name) => jsm.consumers.info(ORDERS_STREAM, name)));
        return infos.every((i) => i.num_pending === 0 && i.num_ack_pending === 0);
      },
      { timeoutMs: 600_000, intervalMs: 100, what: "the loyalty consumers to catch up" },
    );
    const seconds = (performance.now() - started) / 1000;
    let total = 0;
    for (let u = 0; u < USERS; u++) {
      const body = (await (await fetch(`${loyalty.baseUrl}/users/replay-u${u}/points`)).json()) as { points: number; orders: number };
      const expectedOrders = Math.floor(orders / USERS) + (u < orders % USERS ? 1 : 0);
      if (body.points !== 25 * expectedOrders || body.orders !== expectedOrders) {
        throw new Error(`replay-u${u}: ${JSON.stringify(body)}, expected ${25 * expectedOrders} points over ${expectedOrders} orders`);
      }
      total += body.points;
    }
    console.log(
      `loyalty backfill: ${orders} payments (${filled.events} events on ORDERS, ${USERS} users) applied in ${seconds.toFixed(1)} s ` +
        `from process start (${((ready - started) / 1000).toFixed(1)} s to ready): ${(orders / seconds).toFixed(0)} payments/s; ` +
        `points checked (${total} in all)`,
    );
  } finally {
    await loyalty.stop("SIGTERM");
  }
} finally {
  await nc.close();
  await nats.stop();
}
