/**
 * Sites: a hub and two sites as real nats-servers (leaf nodes with JetStream domains of their own;
 * edge1 linked over TCP, edge2 over WebSocket) and the services as real processes
 * (test/support/sites.ts). Orders placed at each site flow and
 * end as in a single-site system; the hub sees them all; the link cut either way (hub SIGKILL and
 * restart, the site's remote removed and the config reloaded) loses nothing and does nothing twice.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { startSites, type Sites } from "./support/sites.ts";
import { promtool } from "./support/prometheus.ts";
import { startTestJaeger } from "./support/observability.ts";
import type { JaegerProcess } from "../scripts/observability.ts";
import { getJson, postOrder, waitForStatus } from "./support/system.ts";
import { join } from "node:path";
import { REPO_ROOT, waitUntil } from "./support/processes.ts";
import { BUCKETS, NOTIFICATIONS_STREAM, ORDERS_STREAM } from "../nats/subjects.ts";
import { listDeadLetters } from "../nats/dead-letter-queue.ts";

const FINAL = ["SHIPPING_READY", "CANCELLED"];
const HAPPY = ["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"];
const DECLINED = ["ORDER_CREATED", "PAYMENT_FAILED", "ORDER_CANCELLED"];
const OUT_OF_STOCK = ["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_FAILED", "PAYMENT_REFUNDED", "ORDER_CANCELLED"];

let sites: Sites;
const conns: NatsConnection[] = [];

async function manager(url: string): Promise<JetStreamManager> {
  const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  conns.push(nc);
  return jetstreamManager(nc);
}

async function eventTypesAt(baseUrl: string, orderId: string): Promise<string[]> {
  const { status, body } = await getJson(`${baseUrl}/orders/${orderId}/events`);
  return status === 200 ? (body as { eventType: string }[]).map((e) => e.eventType) : [];
}

/** Waits until the order's events at `baseUrl` are exactly `expected`. */
async function eventsBecome(baseUrl: string, orderId: string, expected: string[], timeoutMs = 30_000): Promise<void> {
  await waitUntil(async () => JSON.stringify(await eventTypesAt(baseUrl, orderId)) === JSON.stringify(expected), {
    timeoutMs,
    intervalMs: 200,
    what: `${orderId}'s events at ${baseUrl} to be ${expected.join(",")} (have ${(await eventTypesAt(baseUrl, orderId)).join(",")})`,
  });
}

let jaeger: JaegerProcess;

beforeAll(async () => {
  // Every service at the hub and at the sites exports its spans to one real Jaeger.
  jaeger = await startTestJaeger();
  const tracing = {
    OTEL_TRACES_EXPORTER: "otlp",
    OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpUrl,
    JAEGER_QUERY_URL: jaeger.queryUrl,
    OTEL_BSP_SCHEDULE_DELAY: "200",
  };
  // edge2's leafnode remote is a ws:// URL (the hub's WebSocket listener), edge1's nats-leaf://.
  sites = await startSites({ env: { PAYMENT_LIMIT: "1000", ...tracing }, leafTransport: { edge2: "ws" } });
}, 120_000);

afterAll(async () => {
  await Promise.all(conns.map((c) => c.close().catch(() => {})));
  await sites?.stop();
  await jaeger?.stop();
});

describe("orders placed at a site", () => {
  it("end as in a single-site system, at the site and at the hub, with ids naming their site", async () => {
    const cases: Array<{ site: string; body: object; expected: string[]; cancel?: boolean }> = [];
    for (const site of ["edge1", "edge2"]) {
      cases.push({ site, body: { userId: `u-${site}`, amount: 20, items: [{ sku: "A-1", quantity: 2, unitPrice: 10 }] }, expected: HAPPY });
      cases.push({ site, body: { userId: `u-${site}`, amount: 5000 }, expected: DECLINED });
      cases.push({
        site,
        body: { userId: `u-${site}`, amount: 10, items: [{ sku: "OUT-OF-STOCK", quantity: 1, unitPrice: 10 }] },
        expected: OUT_OF_STOCK,
      });
    }
    const placed = await Promise.all(
      cases.map(async (c) => {
        const res = await postOrder(sites.site(c.site).order!.baseUrl, c.body);
        expect(res.status).toBe(201);
        expect(res.body.orderId).toMatch(new RegExp(`^${c.site}-[0-9a-f-]{36}$`));
        return { ...c, orderId: res.body.orderId as string };
      }),
    );
    for (const p of placed) {
      const siteUrl = sites.site(p.site).order!.baseUrl;
      await eventsBecome(siteUrl, p.orderId, p.expected);
      await eventsBecome(sites.hubOrderUrl, p.orderId, p.expected);
      const view = await waitForStatus(siteUrl, p.orderId, FINAL);
      expect(view.status).toBe(p.expected === HAPPY ? "SHIPPING_READY" : "CANCELLED");
      const { body: events } = await getJson(`${sites.hubOrderUrl}/orders/${p.orderId}/events`);
      // At the hub a site's order lives under sites.<site>.orders…, one trace across both sides.
      expect(events[0].subject).toMatch(new RegExp(`^sites\\.${p.site}\\.orders\\.\\d+\\.${p.orderId}\\.ORDER_CREATED$`));
      const traces = new Set((events as { traceparent: string }[]).map((e) => e.traceparent.split("-")[1]));
      expect(traces.size).toBe(1);
      // A site sees its own orders only.
      const other = p.site === "edge1" ? "edge2" : "edge1";
      expect((await getJson(`${sites.site(other).order!.baseUrl}/orders/${p.orderId}`)).status).toBe(404);
    }
  }, 120_000);

  it("is one trace across site and hub: the hub's /trace and order page show the site's POST and the hub's services under it", async () => {
    const site = sites.site("edge1").order!.baseUrl;
    const { body } = await postOrder(site, { userId: "u-trace", amount: 20 });
    await eventsBecome(site, body.orderId, HAPPY);
    const trace = await waitUntil(
      async () => {
        const { status, body: t } = await getJson(`${sites.hubOrderUrl}/orders/${body.orderId}/trace`);
        const services = new Set(((t?.spans ?? []) as { service: string }[]).map((sp) => sp.service));
        const all = ["order-service", "payment-service", "shipping-service", "notification-service"].every((n) => services.has(n));
        return status === 200 && all ? t : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: "the hub's /trace to hold the site's and the hub's spans" },
    );
    expect(trace.traceId).toBe(body.traceId);
    const spans = trace.spans as { spanId: string; parentSpanId: string | null; operation: string; service: string }[];
    // One root: the POST at the site; every other span's parent is in the trace.
    const ids = new Set(spans.map((sp) => sp.spanId));
    const roots = spans.filter((sp) => !sp.parentSpanId || !ids.has(sp.parentSpanId));
    expect(roots.map((r) => `${r.service} ${r.operation}`)).toEqual(["order-service POST /orders"]);
    const page = await (await fetch(`${sites.hubOrderUrl}/orders/${body.orderId}/view`)).text();
    expect(page).toContain(body.traceId);
    expect(page).toContain("payment-service");
  }, 60_000);

  it("can be cancelled at the site (refund at the hub, ORDER_CANCELLED at the site), not at the hub", async () => {
    const site = sites.site("edge1").order!.baseUrl;
    // The cancel races payment and shipping at the hub: either end is allowed, never both.
    const { body } = await postOrder(site, { userId: "u-cancel", amount: 30 });
    // The hub does not take a site's customer decisions.
    await waitUntil(async () => (await getJson(`${sites.hubOrderUrl}/orders/${body.orderId}`)).status === 200, {
      what: "the order at the hub",
    });
    const atHub = await fetch(`${sites.hubOrderUrl}/orders/${body.orderId}/cancel`, { method: "POST" });
    expect(atHub.status).toBe(409);
    expect(atHub.headers.get("content-type")).toContain("application/problem+json");
    expect(((await atHub.json()) as { detail: string }).detail).toContain("placed at site edge1");
    const res = await fetch(`${site}/orders/${body.orderId}/cancel`, { method: "POST" });
    expect([202, 409]).toContain(res.status);
    const view = await waitForStatus(site, body.orderId, FINAL, 30_000);
    const types = await eventTypesAt(site, body.orderId);
    if (view.status === "CANCELLED") {
      expect(types.at(-1)).toBe("ORDER_CANCELLED");
      expect(types).not.toContain("SHIPPING_READY");
    } else {
      expect(types.filter((t) => t !== "ORDER_CANCEL_REQUESTED")).toEqual(HAPPY);
    }
    // The same events at the hub; a cancel crossing the hub's PAYMENT_COMPLETED on the link may sit
    // on the other side of it there (each origin's order is kept, not the interleaving of the two).
    await waitUntil(
      async () => JSON.stringify((await eventTypesAt(sites.hubOrderUrl, body.orderId)).sort()) === JSON.stringify([...types].sort()),
      {
        timeoutMs: 30_000,
        what: `the hub to hold ${types.join(",")}`,
      },
    );
    const hubTypes = await eventTypesAt(sites.hubOrderUrl, body.orderId);
    expect(hubTypes.filter((t) => t !== "ORDER_CANCEL_REQUESTED")).toEqual(types.filter((t) => t !== "ORDER_CANCEL_REQUESTED"));
  }, 60_000);

  it("never cross the link except through sourcing: plain publishes stay, acknowledgements stay, the hub's instances bucket has no site instance", async () => {
    const siteJsm = await manager(sites.site("edge1").nats.url);
    const hubJsm = await manager(sites.hub.url);
    const nc = conns.at(-2)!;
    const id = "edge1-00000000-0000-4000-8000-00000000c0de";
    // Stored at the site (its stream's subjects), of a type the site does not forward: never at the hub.
    nc.publish(`sites.edge1.orders.3.${id}.PAYMENT_COMPLETED`, "{}");
    nc.publish(`orders.3.00000000-0000-4000-8000-00000000c0de.ORDER_CREATED`, "{}");
    await nc.flush();
    await waitUntil(
      async () =>
        (await siteJsm.streams.getMessage(ORDERS_STREAM, { last_by_subj: `sites.edge1.orders.3.${id}.PAYMENT_COMPLETED` })) !== null,
      {
        what: "the plain publish to be stored at the site",
      },
    );
    await new Promise((r) => setTimeout(r, 2_000));
    const hubInfo = await hubJsm.streams.info(ORDERS_STREAM, { subjects_filter: `>` });
    const subjects = Object.keys(hubInfo.state.subjects ?? {});
    expect(subjects.filter((s) => s.includes("c0de"))).toEqual([]);
    // No acknowledgement crosses: a declined edge1 order is acked by the hub's payment and
    // notification and by edge1's order service, each only on its own side.
    const watch = (conn: NatsConnection, foreign: RegExp) => {
      const seen: string[] = [];
      const sub = conn.subscribe("$JS.ACK.ORDERS.>", {
        callback: (_err, m) => {
          if (foreign.test(m.subject.split(".")[3] ?? "")) seen.push(m.subject);
        },
      });
      return { seen, sub };
    };
    const atSite = watch(nc, /^(payment|shipping|notification)-lane\d+$/);
    const atHub = watch(conns.at(-1)!, /^order-lane\d+$/); // the hub's own order service has no orders here
    await Promise.all([nc.flush(), conns.at(-1)!.flush()]);
    const declined = await postOrder(sites.site("edge1").order!.baseUrl, { userId: "no-acks", amount: 5000 });
    await eventsBecome(sites.hubOrderUrl, declined.body.orderId, DECLINED);
    await new Promise((r) => setTimeout(r, 500));
    atSite.sub.unsubscribe();
    atHub.sub.unsubscribe();
    expect(atSite.seen, "the hub's acks seen at edge1").toEqual([]);
    expect(atHub.seen, "edge1's acks seen at the hub").toEqual([]);
    // The hub's instances: its own four services, none of a site's order instances.
    const kv = await new Kvm(conns.at(-1)!).open(BUCKETS.instances);
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    expect(keys.filter((k) => k.startsWith("order.")).length).toBe(1);
  }, 30_000);
});

/** One order of a mixed batch: every 10th declined, every 10th (offset 5) out of stock, the rest happy. */
function mixedOrder(i: number, userId: string): { body: object; expected: string[] } {
  if (i % 10 === 3) return { body: { userId, amount: 5000 }, expected: DECLINED };
  if (i % 10 === 7)
    return { body: { userId, amount: 10, items: [{ sku: "OUT-OF-STOCK", quantity: 1, unitPrice: 10 }] }, expected: OUT_OF_STOCK };
  return { body: { userId, amount: 20, items: [{ sku: "A-1", quantity: 2, unitPrice: 10 }] }, expected: HAPPY };
}

interface Placed {
  orderId: string;
  expected: string[];
}

/** Places `count` mixed orders at a site, `concurrency` at a time; every one must be 201. */
async function placeMany(baseUrl: string, count: number, userId: string, concurrency = 16): Promise<Placed[]> {
  const placed: Placed[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) {
        const { body, expected } = mixedOrder(i, userId);
        const res = await postOrder(baseUrl, body);
        if (res.status !== 201) throw new Error(`POST /orders at ${baseUrl} answered ${res.status}: ${JSON.stringify(res.body)}`);
        placed.push({ orderId: res.body.orderId, expected });
      }
    }),
  );
  return placed;
}

/** Messages per subject under `filter` in a stream (its state's subject counts). */
async function subjectCounts(jsm: JetStreamManager, stream: string, filter: string): Promise<Record<string, number>> {
  return (await jsm.streams.info(stream, { subjects_filter: filter })).state.subjects ?? {};
}

/** Sum of the events the placed orders end with. */
function totalEvents(placed: Placed[]): number {
  return placed.reduce((n, p) => n + p.expected.length, 0);
}

/** Waits until the stream holds every final event of the placed orders under `filter`; answers the ms it took. */
async function allEventsStored(jsm: JetStreamManager, filter: string, placed: Placed[], timeoutMs: number, what: string): Promise<number> {
  const started = Date.now();
  const ids = new Set(placed.map((p) => p.orderId));
  const want = totalEvents(placed);
  await waitUntil(
    async () => {
      const counts = await subjectCounts(jsm, ORDERS_STREAM, filter);
      let n = 0;
      for (const subject of Object.keys(counts)) if (ids.has(subject.split(".")[4]!)) n++;
      return n >= want;
    },
    { timeoutMs, intervalMs: 100, what },
  );
  return Date.now() - started;
}

/**
 * Every placed order ended as it would have without an outage, once: its events at the site and at
 * the hub are exactly the expected ones in order, no (order, event type) subject holds two messages
 * on either side, and the hub's notifications are one per event.
 */
async function assertCompletedOnce(site: string, placed: Placed[], userId: string): Promise<void> {
  const siteJsm = await manager(sites.site(site).nats.url);
  const hubJsm = await manager(sites.hub.url);
  for (const jsm of [siteJsm, hubJsm]) {
    const counts = await subjectCounts(jsm, ORDERS_STREAM, `sites.${site}.orders.*.*.*`);
    const ours = Object.entries(counts).filter(([subject]) => placed.some((p) => subject.includes(p.orderId)));
    expect(ours.length).toBe(totalEvents(placed));
    expect(ours.filter(([, n]) => n !== 1)).toEqual([]);
  }
  const siteUrl = sites.site(site).order!.baseUrl;
  for (const p of placed) {
    // Through the order services' HTTP (a site's may still be reconnecting after its server restarted).
    await eventsBecome(siteUrl, p.orderId, p.expected, 30_000);
    await eventsBecome(sites.hubOrderUrl, p.orderId, p.expected, 30_000);
  }
  const notified = await waitUntil(
    async () => {
      const counts = await subjectCounts(hubJsm, NOTIFICATIONS_STREAM, `notifications.${userId}.>`);
      return Object.keys(counts).length >= totalEvents(placed) ? counts : undefined;
    },
    { timeoutMs: 30_000, what: `a notification for each of ${userId}'s events` },
  );
  expect(Object.keys(notified).length).toBe(totalEvents(placed));
  expect(Object.values(notified).filter((n) => n !== 1)).toEqual([]);
}

async function metricsOf(baseUrl: string): Promise<string> {
  return (await fetch(`${baseUrl}/metrics`)).text();
}

describe("a bad event from a site", () => {
  it("is dead-lettered at the hub with its reason (a sourced message's Nats-Stream-Source header is not copied), and blocks nothing", async () => {
    await manager(sites.site("edge1").nats.url);
    const hubJsm = await manager(sites.hub.url);
    const nc = conns.at(-2)!;
    const id = "edge1-00000000-0000-4000-8000-0000000000bd";
    const subject = `sites.edge1.orders.3.${id}.ORDER_CREATED`;
    // Not through the API: a body that is no ORDER_CREATED, stored at the site and sourced like any.
    nc.publish(subject, JSON.stringify({ eventType: "ORDER_CREATED", orderId: id }));
    await nc.flush();
    const letter = await waitUntil(async () => (await listDeadLetters(hubJsm)).find((d) => d.subject === subject), {
      timeoutMs: 20_000,
      what: `a dead letter at the hub for ${subject}`,
    });
    // Partition 3 is read by lane 3 (nats/subjects.ts laneOf).
    expect(letter.consumer).toMatch(/^(payment|shipping|notification)-lane3$/);
    expect(letter.reason).not.toBe("");
    // The site goes on.
    const { body } = await postOrder(sites.site("edge1").order!.baseUrl, { userId: "after-bad", amount: 20 });
    await eventsBecome(sites.site("edge1").order!.baseUrl, body.orderId, HAPPY);
  }, 60_000);
});

describe("the link to the hub cut and back", () => {
  it("hub SIGKILLed and restarted: 200 orders at each site are taken meanwhile, then complete once and in order", async () => {
    await sites.hub.kill();
    const placed: Record<string, Placed[]> = {};
    for (const site of ["edge1", "edge2"]) placed[site] = await placeMany(sites.site(site).order!.baseUrl, 200, `kill-${site}`);
    const edge1 = sites.site("edge1").order!.baseUrl;
    // The site stays ready, says the order waits, and /metrics shows the link down and the backlog.
    expect((await fetch(`${edge1}/readyz`)).status).toBe(200);
    expect((await getJson(`${edge1}/orders/${placed.edge1![0]!.orderId}`)).body.hub).toBe("waiting");
    const page = await (await fetch(`${edge1}/orders/${placed.edge1![0]!.orderId}/view`)).text();
    expect(page).toContain('data-hub="waiting"');
    await waitUntil(
      async () => {
        const text = await metricsOf(edge1);
        const pending = Number(/^orderstream_hub_pending_events\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? -1);
        return /^orderstream_hub_link_up\{[^}]*hub="hub"[^}]*\} 0$/m.test(text) && pending >= 200;
      },
      { timeoutMs: 10_000, what: "edge1's /metrics to show the link down and ≥ 200 events waiting" },
    );
    await sites.hub.restart();
    const siteJsm = { edge1: await manager(sites.site("edge1").nats.url), edge2: await manager(sites.site("edge2").nats.url) };
    const took = await Promise.all(
      (["edge1", "edge2"] as const).map((site) =>
        allEventsStored(
          siteJsm[site],
          `sites.${site}.orders.*.*.*`,
          placed[site]!,
          60_000,
          `${site}'s orders to complete after the hub's restart`,
        ),
      ),
    );
    console.log(`hub restart: 2 × 200 orders complete at their sites ${Math.max(...took)} ms after the hub was started again`);
    for (const site of ["edge1", "edge2"]) await assertCompletedOnce(site, placed[site]!, `kill-${site}`);
    expect((await getJson(`${edge1}/orders/${placed.edge1![0]!.orderId}`)).body.hub).toBe("received");
    await waitUntil(async () => /^orderstream_hub_link_up\{[^}]*\} 1$/m.test(await metricsOf(edge1)), {
      timeoutMs: 10_000,
      what: "the link gauge back at 1",
    });
    const check = promtool(["check", "metrics"], await metricsOf(edge1));
    expect(check.status, check.output).toBe(0);
  }, 240_000);

  it("edge1's remote removed (config reload): 200 orders and a cancel wait at the site, edge2 goes on; back, they complete once", async () => {
    const edge1 = sites.site("edge1");
    await edge1.cut();
    const during = await placeMany(edge1.order!.baseUrl, 200, "cut-edge1");
    // A cancel while cut: ORDER_CANCEL_REQUESTED waits at the site behind its ORDER_CREATED.
    const cancelled = await postOrder(edge1.order!.baseUrl, { userId: "cut-edge1", amount: 20 });
    expect((await fetch(`${edge1.order!.baseUrl}/orders/${cancelled.body.orderId}/cancel`, { method: "POST" })).status).toBe(202);
    // The other site is not affected.
    const other = await placeMany(sites.site("edge2").order!.baseUrl, 20, "cut-edge2");
    const edge2Jsm = await manager(sites.site("edge2").nats.url);
    await allEventsStored(edge2Jsm, "sites.edge2.orders.*.*.*", other, 30_000, "edge2's orders to complete while edge1 is cut off");
    expect((await fetch(`${edge1.order!.baseUrl}/readyz`)).status).toBe(200);
    expect((await getJson(`${edge1.order!.baseUrl}/orders/${during[0]!.orderId}`)).body).toMatchObject({
      status: "CREATED",
      hub: "waiting",
    });
    await edge1.restore();
    const edge1Jsm = await manager(edge1.nats.url);
    const all = [
      ...during,
      {
        orderId: cancelled.body.orderId as string,
        expected: ["ORDER_CREATED", "ORDER_CANCEL_REQUESTED", "PAYMENT_COMPLETED", "PAYMENT_REFUNDED", "ORDER_CANCELLED"],
      },
    ];
    const took = await allEventsStored(
      edge1Jsm,
      "sites.edge1.orders.*.*.*",
      during,
      60_000,
      "edge1's orders to complete after the link returned",
    );
    console.log(`link cut by reload: 200 orders complete at edge1 ${took} ms after the remote was back`);
    await waitForStatus(edge1.order!.baseUrl, cancelled.body.orderId, ["CANCELLED"], 30_000);
    const cancelTypes = await eventTypesAt(edge1.order!.baseUrl, cancelled.body.orderId);
    // Payment at the hub sees the cancel before it charges, or refunds after: CANCELLED either way, never shipped.
    expect(cancelTypes.slice(0, 2)).toEqual(["ORDER_CREATED", "ORDER_CANCEL_REQUESTED"]);
    expect(cancelTypes).not.toContain("SHIPPING_READY");
    expect(cancelTypes.at(-1)).toBe("ORDER_CANCELLED");
    await assertCompletedOnce("edge1", all, "cut-edge1");
  }, 240_000);

  it("a leaf restarted while it catches up: nothing lost, nothing twice", async () => {
    const edge2 = sites.site("edge2");
    await edge2.cut();
    const during = await placeMany(edge2.order!.baseUrl, 200, "restart-edge2");
    const hubJsm = await manager(sites.hub.url);
    const ids = new Set(during.map((p) => p.orderId));
    const before = (await hubJsm.streams.info(ORDERS_STREAM)).state.messages;
    await edge2.restore();
    // Restart as soon as the hub has some of the backlog (a cheap count, asked often), before it has all of it.
    await waitUntil(async () => (await hubJsm.streams.info(ORDERS_STREAM)).state.messages > before, {
      timeoutMs: 30_000,
      intervalMs: 5,
      what: "the hub to start receiving edge2's backlog",
    });
    const atRestart = Object.keys(await subjectCounts(hubJsm, ORDERS_STREAM, "sites.edge2.orders.*.*.*")).filter((s) =>
      ids.has(s.split(".")[4]!),
    ).length;
    await edge2.nats.restart();
    const restarted = Date.now();
    const edge2Jsm = await manager(edge2.nats.url);
    const forwardMs = await waitUntil(
      async () =>
        Object.keys(await subjectCounts(hubJsm, ORDERS_STREAM, "sites.edge2.orders.*.*.ORDER_CREATED")).filter((s) =>
          ids.has(s.split(".")[4]!),
        ).length === during.length && Date.now() - restarted,
      { timeoutMs: 60_000, intervalMs: 100, what: "every ORDER_CREATED of the backlog at the hub" },
    );
    await allEventsStored(edge2Jsm, "sites.edge2.orders.*.*.*", during, 60_000, "edge2's orders to complete after its restart");
    console.log(
      `leaf restarted with ${atRestart} of ${totalEvents(during)} events of the backlog at the hub: every ORDER_CREATED there ` +
        `${forwardMs} ms and every order complete at the site ${Date.now() - restarted} ms after the restart`,
    );
    if (Date.now() - restarted > 10_000) {
      const notable = (l: string) => /WRN|ERR|source|Leafnode/i.test(l) && !/Websocket not configured/.test(l);
      console.log(`edge2:\n${edge2.nats.logs().split("\n").filter(notable).slice(-20).join("\n")}`);
      console.log(`hub:\n${sites.hub.logs().split("\n").filter(notable).slice(-20).join("\n")}`);
      console.log(JSON.stringify((await edge2Jsm.streams.info(ORDERS_STREAM)).sources));
    }
    await assertCompletedOnce("edge2", during, "restart-edge2");
  }, 240_000);
});

describe("a site's service on another runtime", () => {
  it("a Deno order service at a site takes orders beside the Node one, and they complete through the hub", async () => {
    const deno = join(REPO_ROOT, "node_modules", ".bin", "deno");
    const s = await sites.startSiteService(
      "edge2",
      { DENO_NO_UPDATE_CHECK: "1" },
      { command: [deno, "run", "-A", "services/order/main.deno.ts"], readyTimeoutMs: 120_000 },
    );
    expect(s.output()).toContain('"runtime":"deno"');
    const happy = await postOrder(s.baseUrl, { userId: "deno-site", amount: 20 });
    const declined = await postOrder(s.baseUrl, { userId: "deno-site", amount: 5000 });
    expect(happy.status).toBe(201);
    expect(happy.body.orderId).toMatch(/^edge2-/);
    // Whichever instance at edge2 owns the partition cancels the declined order.
    await eventsBecome(s.baseUrl, happy.body.orderId, HAPPY);
    await eventsBecome(s.baseUrl, declined.body.orderId, DECLINED);
    await eventsBecome(sites.hubOrderUrl, declined.body.orderId, DECLINED);
    expect((await getJson(`${s.baseUrl}/orders/${happy.body.orderId}`)).body.hub).toBe("received");
    // The declined order's last site event (ORDER_CANCELLED) is confirmed by the forward consumer's floor.
    await waitUntil(async () => (await getJson(`${s.baseUrl}/orders/${declined.body.orderId}`)).body.hub === "received", {
      timeoutMs: 10_000,
      what: "the declined order's ORDER_CANCELLED to be confirmed by the hub",
    });
  }, 180_000);
});
