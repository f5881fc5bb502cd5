/**
 * Sites: a hub and two sites as real nats-servers (leaf nodes with JetStream domains of their own)
 * and the services as real processes (test/support/sites.ts). Orders placed at each site flow and
 * end as in a single-site system; the hub sees them all; the link cut either way (hub SIGKILL and
 * restart, the site's remote removed and the config reloaded) loses nothing and does nothing twice.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { startSites, type Sites } from "./support/sites.ts";
import { getJson, postOrder, waitForStatus } from "./support/system.ts";
import { waitUntil } from "./support/processes.ts";
import { BUCKETS, ORDERS_STREAM } from "../nats/subjects.ts";

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

beforeAll(async () => {
  sites = await startSites({ env: { PAYMENT_LIMIT: "1000" } });
}, 120_000);

afterAll(async () => {
  await Promise.all(conns.map((c) => c.close().catch(() => {})));
  await sites?.stop();
});

describe("orders placed at a site", () => {
  it("end as in a single-site system, at the site and at the hub, with ids naming their site", async () => {
    const cases: Array<{ site: string; body: object; expected: string[]; cancel?: boolean }> = [];
    for (const site of ["edge1", "edge2"]) {
      cases.push({ site, body: { userId: `u-${site}`, amount: 20, items: [{ sku: "A-1", quantity: 2, unitPrice: 10 }] }, expected: HAPPY });
      cases.push({ site, body: { userId: `u-${site}`, amount: 5000 }, expected: DECLINED });
      cases.push({ site, body: { userId: `u-${site}`, amount: 10, items: [{ sku: "OUT-OF-STOCK", quantity: 1, unitPrice: 10 }] }, expected: OUT_OF_STOCK });
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

  it("can be cancelled at the site (refund at the hub, ORDER_CANCELLED at the site), not at the hub", async () => {
    const site = sites.site("edge1").order!.baseUrl;
    // The cancel races payment and shipping at the hub: either end is allowed, never both.
    const { body } = await postOrder(site, { userId: "u-cancel", amount: 30 });
    const atHub = await fetch(`${sites.hubOrderUrl}/orders/${body.orderId}/cancel`, { method: "POST" });
    // The hub does not take a site's customer decisions.
    if (atHub.status !== 404) expect(atHub.status).toBe(409);
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
    await eventsBecome(sites.hubOrderUrl, body.orderId, types);
  }, 60_000);

  it("never cross the link except through sourcing: plain publishes stay, the hub's instances bucket has no site instance", async () => {
    const siteJsm = await manager(sites.site("edge1").nats.url);
    const hubJsm = await manager(sites.hub.url);
    const nc = conns.at(-2)!;
    const id = "edge1-00000000-0000-4000-8000-00000000c0de";
    // Stored at the site (its stream's subjects), of a type the site does not forward: never at the hub.
    nc.publish(`sites.edge1.orders.3.${id}.PAYMENT_COMPLETED`, "{}");
    nc.publish(`orders.3.00000000-0000-4000-8000-00000000c0de.ORDER_CREATED`, "{}");
    await nc.flush();
    await waitUntil(async () => (await siteJsm.streams.getMessage(ORDERS_STREAM, { last_by_subj: `sites.edge1.orders.3.${id}.PAYMENT_COMPLETED` })) !== null, {
      what: "the plain publish to be stored at the site",
    });
    await new Promise((r) => setTimeout(r, 2_000));
    const hubInfo = await hubJsm.streams.info(ORDERS_STREAM, { subjects_filter: `>` });
    const subjects = Object.keys(hubInfo.state.subjects ?? {});
    expect(subjects.filter((s) => s.includes("c0de"))).toEqual([]);
    // The hub's instances: its own four services, none of a site's order instances.
    const kv = await new Kvm(conns.at(-1)!).open(BUCKETS.instances);
    const keys: string[] = [];
    for await (const k of await kv.keys()) keys.push(k);
    expect(keys.filter((k) => k.startsWith("order.")).length).toBe(1);
  }, 30_000);
});
