/**
 * A site's order service over WebSocket: the hub with its services and one site (edge1) as real
 * nats-servers and processes (test/support/sites.ts), the site's order service with NATS_URL the
 * ws:// URL of its own leaf server's WebSocket listener (nats/sites/site.conf). An order placed there
 * completes through the hub; with the link cut it is still taken and completes when the link is back.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSites, type Sites } from "./support/sites.ts";
import { getJson, postOrder, waitForStatus } from "./support/system.ts";
import { waitUntil, type ServiceProcess } from "./support/processes.ts";

const HAPPY = ["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"];
const DECLINED = ["ORDER_CREATED", "PAYMENT_FAILED", "ORDER_CANCELLED"];

let sites: Sites;
let order: ServiceProcess;

async function eventTypesAt(baseUrl: string, orderId: string): Promise<string[]> {
  const { status, body } = await getJson(`${baseUrl}/orders/${orderId}/events`);
  return status === 200 ? (body as { eventType: string }[]).map((e) => e.eventType) : [];
}

async function eventsBecome(baseUrl: string, orderId: string, expected: string[], timeoutMs = 30_000): Promise<void> {
  await waitUntil(async () => JSON.stringify(await eventTypesAt(baseUrl, orderId)) === JSON.stringify(expected), {
    timeoutMs,
    intervalMs: 200,
    what: `${orderId}'s events at ${baseUrl} to be ${expected.join(",")} (have ${(await eventTypesAt(baseUrl, orderId)).join(",")})`,
  });
}

beforeAll(async () => {
  sites = await startSites({ sites: ["edge1"], siteServices: false, env: { PAYMENT_LIMIT: "1000" } });
  order = await sites.startSiteService("edge1", { NATS_URL: sites.site("edge1").wsUrl });
}, 120_000);

afterAll(async () => {
  await sites?.stop();
});

describe("a site's order service connected to its leaf server over WebSocket", () => {
  it("is a WebSocket client of the site's server, not a TCP one", async () => {
    const edge1 = sites.site("edge1");
    expect(edge1.wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    type Conn = { kind?: string; type?: string; name?: string };
    const { connections } = (await (await fetch(`${edge1.monitorUrl}/connz`)).json()) as { connections?: Conn[] };
    // The leaf connection to the hub is listed too (kind Leafnode); the clients are the order service's.
    const clients = (connections ?? []).filter((c) => c.kind === "Client");
    expect(clients.map((c) => `${c.name} ${c.type}`)).toEqual(["order-service websocket"]);
  });

  it("takes orders that complete through the hub, at the site and at the hub", async () => {
    const happy = await postOrder(order.baseUrl, { userId: "ws-site", amount: 20, items: [{ sku: "A-1", quantity: 2, unitPrice: 10 }] });
    const declined = await postOrder(order.baseUrl, { userId: "ws-site", amount: 5000 });
    for (const [res, expected] of [
      [happy, HAPPY],
      [declined, DECLINED],
    ] as const) {
      expect(res.status).toBe(201);
      expect(res.body.orderId).toMatch(/^edge1-[0-9a-f-]{36}$/);
      await eventsBecome(order.baseUrl, res.body.orderId, [...expected]);
      await eventsBecome(sites.hubOrderUrl, res.body.orderId, [...expected]);
    }
    expect((await waitForStatus(order.baseUrl, happy.body.orderId, ["SHIPPING_READY"])).status).toBe("SHIPPING_READY");
  }, 60_000);

  it("with the link cut still takes orders (201, hub waiting), and they complete when the link is back", async () => {
    const edge1 = sites.site("edge1");
    await edge1.cut();
    const placed: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await postOrder(order.baseUrl, { userId: "ws-site-cut", amount: 20 });
      expect(res.status).toBe(201);
      placed.push(res.body.orderId);
    }
    expect((await fetch(`${order.baseUrl}/readyz`)).status).toBe(200);
    for (const id of placed)
      expect((await getJson(`${order.baseUrl}/orders/${id}`)).body).toMatchObject({ status: "CREATED", hub: "waiting" });
    expect((await getJson(`${sites.hubOrderUrl}/orders/${placed[0]}`)).status).toBe(404);
    await edge1.restore();
    for (const id of placed) {
      await eventsBecome(order.baseUrl, id, HAPPY);
      await eventsBecome(sites.hubOrderUrl, id, HAPPY);
    }
    expect((await getJson(`${order.baseUrl}/orders/${placed[0]}`)).body.hub).toBe("received");
  }, 90_000);
});
