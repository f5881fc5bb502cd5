/**
 * `npm run bench:sites` — sites against the raw limit of the same servers (BENCHMARKS.md "Sites").
 *
 *   npm run bench:sites                       1,000 orders behind a 30 s outage (≈ 3 min)
 *   npm run bench:sites -- --orders 500 --outage-s 10 --load-orders 1000   a shorter run
 *   npm run bench:sites -- --json FILE        also write every figure as JSON
 *
 * Phases, each on fresh servers (test/support/sites.ts: a hub and one site, real processes):
 *  (1) raw sourcing: no services; N messages of an order's size stored at the site during the same
 *      outage (a: link cut by reload, b: hub SIGKILLed), then the time from the link's return (the
 *      hub's restart) until the hub holds all N — what the servers alone do;
 *  (2) catch-up after a cut link: the services running, N orders placed at the site during an outage of
 *      --outage-s seconds (the remote removed and the config reloaded); from the link's return, the time
 *      until the hub holds every ORDER_CREATED and until every order is SHIPPING_READY at the site:
 *      orders/s drained, and that rate against (1) as a ratio;
 *  (3) catch-up after a hub SIGKILL: the same with the hub killed, and the time counted from its restart;
 *  (4) normal operation: M orders as fast as 32 connections post them at the site's API, orders/s
 *      completed (SHIPPING_READY at the site), beside (5) the same at a single-site system.
 * Figures, not assertions: the process exits 0 whatever they are (1 only when the bench itself fails).
 */
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { startSites, type Sites } from "../test/support/sites.ts";
import { startSystem } from "../test/support/system.ts";
import { ensureOrderStreams } from "../nats/setup.ts";
import { ensureSiteLinks } from "../nats/sites.ts";
import { eventSubject, ORDERS_STREAM } from "../nats/subjects.ts";
import { newOrderId } from "../shared/ids.ts";
import { httpLoad, orderBody } from "./load.ts";

const { values: args } = parseArgs({
  options: {
    orders: { type: "string", default: "1000" },
    "outage-s": { type: "string", default: "30" },
    "load-orders": { type: "string", default: "2000" },
    json: { type: "string" },
  },
});
const N = Number(args.orders);
const OUTAGE_S = Number(args["outage-s"]);
const M = Number(args["load-orders"]);
const SITE = "edge1";
const figures: Record<string, number> = {};
const conns: NatsConnection[] = [];

async function manager(url: string): Promise<JetStreamManager> {
  const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  conns.push(nc);
  return jetstreamManager(nc);
}

/** Subjects under `filter` in ORDERS: one per (order, event type), so one per order for a type filter. */
async function subjectsUnder(jsm: JetStreamManager, filter: string): Promise<number> {
  return Object.keys((await jsm.streams.info(ORDERS_STREAM, { subjects_filter: filter })).state.subjects ?? {}).length;
}

/** Polls until `count()` reaches `target`; the ms from `since`. */
async function until(count: () => Promise<number>, target: number, since: number, what: string, timeoutMs = 300_000): Promise<number> {
  for (;;) {
    const n = await count().catch(() => -1);
    if (n >= target) return performance.now() - since;
    if (performance.now() - since > timeoutMs) throw new Error(`${what}: ${n} of ${target} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** POSTs `count` orders at `url`, 32 at a time; every one must be 201. */
async function place(url: string, count: number, userId: string): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next++ < count) {
        const res = await fetch(`${url}/orders`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: orderBody(userId),
        });
        if (res.status !== 201) throw new Error(`POST /orders answered ${res.status}: ${await res.text()}`);
      }
    }),
  );
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function rawSourcing(kind: "cut" | "kill"): Promise<void> {
  const sites = await startSites({ sites: [SITE], hubServices: [], siteServices: false });
  try {
    const hubJsm = await manager(sites.hub.url);
    const siteJsm = await manager(sites.site(SITE).nats.url);
    const js = jetstream(conns.at(-1)!);
    // What the services would set up, and nothing else running.
    await ensureOrderStreams(hubJsm, 1, undefined, { kind: "hub", sites: [SITE] });
    await ensureSiteLinks(hubJsm, { kind: "hub", sites: [SITE] });
    await ensureOrderStreams(siteJsm, 1, undefined, { kind: "site", site: SITE, hubDomain: "hub" });
    await ensureSiteLinks(siteJsm, { kind: "site", site: SITE, hubDomain: "hub" });
    // The source running before the outage, as it is in phases 2 and 3.
    await new Promise((r) => setTimeout(r, 2_000));
    const started = performance.now();
    if (kind === "cut") await sites.site(SITE).cut();
    else await sites.hub.kill();
    const body = new TextEncoder().encode(
      JSON.stringify({
        eventType: "ORDER_CREATED",
        orderId: newOrderId(SITE),
        userId: "bench-u0",
        amount: 25.5,
        currency: "USD",
        items: [{ sku: "BENCH-1", quantity: 2, unitPrice: 12.75 }],
        eventId: crypto.randomUUID(),
        occurredAt: new Date().toISOString(),
        schemaVersion: 1,
      }),
    );
    const acks = [];
    for (let i = 0; i < N; i++) {
      const id = newOrderId(SITE);
      acks.push(js.publish(eventSubject(id, "ORDER_CREATED"), body, { msgID: id, expect: { lastSubjectSequence: 0 } }));
      if (acks.length >= 1000) await Promise.all(acks.splice(0));
    }
    await Promise.all(acks);
    const rest = OUTAGE_S * 1000 - (performance.now() - started);
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
    if (kind === "cut") await sites.site(SITE).restore();
    else await sites.hub.restart();
    const t0 = performance.now();
    const ms = await until(async () => (await hubJsm.streams.info(ORDERS_STREAM)).state.messages, N, t0, "raw sourcing");
    figures[`raw${kind}Ms`] = ms;
    figures[`raw${kind}PerS`] = (N / ms) * 1000;
    console.log(
      `(1${kind === "cut" ? "a" : "b"}) raw sourcing, ${kind === "cut" ? "link cut (reload)" : "hub SIGKILLed"} for ${OUTAGE_S} s: ${fmt(N)} messages reach the hub ` +
        `${fmt(ms)} ms after the ${kind === "cut" ? "link returns" : "hub is started again"}: ${fmt(figures[`raw${kind}PerS`]!)} msgs/s`,
    );
  } finally {
    await sites.stop();
  }
}

async function catchUp(kind: "cut" | "kill", sites: Sites): Promise<void> {
  const site = sites.site(SITE);
  const siteJsm = await manager(site.nats.url);
  const hubJsm = await manager(sites.hub.url);
  const created = () => subjectsUnder(hubJsm, `sites.${SITE}.orders.*.*.ORDER_CREATED`);
  const shipped = () => subjectsUnder(siteJsm, `sites.${SITE}.orders.*.*.SHIPPING_READY`);
  const [createdBefore, shippedBefore] = [await created(), await shipped()];
  const started = performance.now();
  if (kind === "cut") await site.cut();
  else await sites.hub.kill();
  await place(site.order!.baseUrl, N, `bench-${kind}`);
  const placedMs = performance.now() - started;
  const rest = OUTAGE_S * 1000 - placedMs;
  if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  if (kind === "cut") await site.restore();
  else await sites.hub.restart();
  const t0 = performance.now();
  const [forwardMs, completeMs] = await Promise.all([
    until(created, createdBefore + N, t0, "ORDER_CREATED at the hub"),
    until(shipped, shippedBefore + N, t0, "SHIPPING_READY at the site"),
  ]);
  const rate = (N / completeMs) * 1000;
  figures[`${kind}ForwardMs`] = forwardMs;
  figures[`${kind}CompleteMs`] = completeMs;
  figures[`${kind}DrainPerS`] = rate;
  figures[`${kind}Ratio`] = rate / figures[`raw${kind}PerS`]!;
  const what =
    kind === "cut"
      ? `link cut (reload) for ${fmt(Math.max(OUTAGE_S * 1000, placedMs) / 1000, 1)} s`
      : `hub SIGKILLed for ${fmt(Math.max(OUTAGE_S * 1000, placedMs) / 1000, 1)} s`;
  console.log(
    `(${kind === "cut" ? 2 : 3}) ${what}, ${fmt(N)} orders placed meanwhile (in ${fmt(placedMs)} ms): all at the hub ${fmt(forwardMs)} ms and all SHIPPING_READY ` +
      `at the site ${fmt(completeMs)} ms after the ${kind === "cut" ? "link returned" : "hub was started again"}: ${fmt(rate)} orders/s drained, ` +
      `${fmt(figures[`${kind}Ratio`]!, 2)} × the raw sourcing rate after the same outage (1${kind === "cut" ? "a" : "b"})`,
  );
}

/** M orders, 32 connections closed loop, until every one is SHIPPING_READY where `count` looks. */
async function throughput(url: string, count: () => Promise<number>): Promise<number> {
  const before = await count();
  const t0 = performance.now();
  const load = await httpLoad({ url, rate: 0, durationS: 0, amount: M, connections: 32 });
  if (load.ok !== M) throw new Error(`${M - load.ok} of ${M} POSTs failed (${load.non2xx} non-2xx, ${load.errors} errors)`);
  const ms = await until(count, before + M, t0, "orders completed");
  return (M / ms) * 1000;
}

async function main(): Promise<void> {
  console.log(`bench:sites — ${fmt(N)} orders per outage of ${OUTAGE_S} s, ${fmt(M)} orders for throughput\n`);
  await rawSourcing("cut");
  await rawSourcing("kill");
  const sites = await startSites({ sites: [SITE] });
  try {
    const siteJsm = await manager(sites.site(SITE).nats.url);
    await place(sites.site(SITE).order!.baseUrl, 100, "bench-warmup");
    await catchUp("cut", sites);
    await catchUp("kill", sites);
    figures.siteOrdersPerS = await throughput(sites.site(SITE).order!.baseUrl, () =>
      subjectsUnder(siteJsm, `sites.${SITE}.orders.*.*.SHIPPING_READY`),
    );
    console.log(`(4) through a site, link up: ${fmt(M)} orders completed at ${fmt(figures.siteOrdersPerS)} orders/s`);
  } finally {
    await sites.stop();
  }
  const single = await startSystem();
  try {
    const jsm = await manager(single.nats.url);
    await place(single.orderUrl, 100, "bench-warmup");
    figures.singleOrdersPerS = await throughput(single.orderUrl, () => subjectsUnder(jsm, "orders.*.*.SHIPPING_READY"));
    console.log(
      `(5) single site, same services: ${fmt(M)} orders completed at ${fmt(figures.singleOrdersPerS)} orders/s ` +
        `(a site: ${fmt(figures.siteOrdersPerS / figures.singleOrdersPerS, 2)} ×)`,
    );
  } finally {
    await single.stop();
  }
}

try {
  await main();
  if (args.json) writeFileSync(args.json, JSON.stringify({ orders: N, outageS: OUTAGE_S, loadOrders: M, ...figures }, null, 2));
} catch (err) {
  console.error(`bench:sites failed: ${(err as Error).stack ?? err}`);
  process.exitCode = 1;
} finally {
  await Promise.all(conns.map((c) => c.close().catch(() => {})));
}
