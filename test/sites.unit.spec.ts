/** Sites: the topology from the environment, and the leafnode remote's deny lists against the names in nats/subjects.ts. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, loadTopology } from "../shared/config.ts";
import {
  BUCKETS,
  consumerName,
  deadLetterSubject,
  eventSubject,
  maxDeliveriesAdvisorySubject,
  notificationSubject,
  siteForwardDeliverSubject,
  siteReturnDeliverSubject,
  jetStreamApiOf,
} from "../nats/subjects.ts";
import { siteConfigText } from "../scripts/site-servers.ts";
import { subjectMatches } from "./support/subject-match.ts";

describe("loadTopology", () => {
  it("given nothing, when loaded, then the service runs alone, as before sites existed", () => {
    expect(loadTopology("order", {})).toEqual({ kind: "single" });
    expect(loadTopology("payment", { SITES: " , " })).toEqual({ kind: "single" });
  });

  it("given SITE for the order service, then it runs at that site with the hub's domain `hub` unless HUB_DOMAIN says otherwise", () => {
    expect(loadTopology("order", { SITE: "edge1" })).toEqual({ kind: "site", site: "edge1", hubDomain: "hub" });
    expect(loadTopology("order", { SITE: "edge1", HUB_DOMAIN: "central" })).toEqual({ kind: "site", site: "edge1", hubDomain: "central" });
  });

  it("given SITES, then the service runs at the hub for those sites (repeats and spaces dropped)", () => {
    expect(loadTopology("shipping", { SITES: "edge1, edge2,edge1" })).toEqual({ kind: "hub", sites: ["edge1", "edge2"] });
  });

  it.each([
    [{ SITE: "edge1", SITES: "edge1" }, /SITE and SITES are both set/],
    [{ SITE: "Edge1" }, /SITE=Edge1 is not a site name/],
    [{ SITES: "edge1,edge.2" }, /SITES=edge.2 is not a site name/],
    [{ SITE: "hub" }, /is the hub's domain/],
    [{ SITES: "edge1,hub" }, /the hub's own domain/],
    [{ SITE: "edge1", HUB_DOMAIN: "a b" }, /HUB_DOMAIN=a b is not a site name/],
  ])("refuses %j with a message naming the variable", (env, message) => {
    expect(() => loadTopology("order", env)).toThrow(ConfigError);
    expect(() => loadTopology("order", env)).toThrow(message);
  });

  it("refuses SITE for the central services: they run at the hub", () => {
    for (const service of ["payment", "shipping", "notification"] as const) {
      expect(() => loadTopology(service, { SITE: "edge1" })).toThrow(/only the order API runs at a site; run .* at the hub with SITES/);
    }
  });
});

function denyLists(conf: string): { imports: string[]; exports: string[] } {
  const list = (key: string) => JSON.parse(new RegExp(`${key}: (\\[[^\\]]*\\])`).exec(conf)![1]!) as string[];
  return { imports: list("deny_imports"), exports: list("deny_exports") };
}

describe("nats/sites/site.conf", () => {
  const conf = readFileSync(new URL("../nats/sites/site.conf", import.meta.url), "utf8");
  const { imports, exports } = denyLists(conf);
  const plainId = "0c0ffee0-0000-4000-8000-000000000001";
  const siteId = `edge1-${plainId}`;

  it("denies both ways every subject a stream or bucket of the project stores on, on either side", () => {
    const stored = [
      eventSubject(plainId, "ORDER_CREATED"),
      eventSubject(siteId, "PAYMENT_COMPLETED"),
      notificationSubject("u1", siteId, "ORDER_CREATED"),
      `$KV.${BUCKETS.instances}.order.some-instance`,
      `$KV.${BUCKETS.idempotencyKeys}.k`,
      deadLetterSubject(consumerName("payment", 1), 7),
      maxDeliveriesAdvisorySubject(consumerName("payment", 1)),
    ];
    expect(imports).toEqual(exports);
    for (const subject of stored)
      expect(
        imports.some((d) => subjectMatches(d, subject)),
        subject,
      ).toBe(true);
  });

  it("denies both ways the acknowledgements of consumers of the same name on each side (their subject names no domain)", () => {
    for (const ack of [
      "$JS.ACK.ORDERS.order-p08.1.1137.12.1765100000000000000.0",
      "$JS.ACK.ORDERS.payment-p01.1.7.7.1765100000000000000.3",
    ]) {
      expect(
        imports.some((d) => subjectMatches(d, ack)),
        ack,
      ).toBe(true);
      expect(
        exports.some((d) => subjectMatches(d, ack)),
        ack,
      ).toBe(true);
    }
  });

  it("lets through what the link is for: the sourcing deliveries and JetStream API requests for the other domain", () => {
    const crossing = [
      siteForwardDeliverSubject("edge1"),
      siteReturnDeliverSubject("edge1"),
      `${jetStreamApiOf("hub")}.INFO`,
      "$JS.FC.ORDERS.x.y",
      "_INBOX_order.abc",
    ];
    for (const subject of crossing)
      expect(
        imports.some((d) => subjectMatches(d, subject)),
        subject,
      ).toBe(false);
  });

  it("loses the leafnode block, and only it, when written unlinked (how a test cuts the link)", () => {
    const linked = siteConfigText(conf, true);
    const cut = siteConfigText(conf, false);
    expect(linked).toContain("remotes");
    expect(cut).not.toContain("remotes");
    expect(cut).toContain("domain: $SITE");
    expect(linked).not.toContain("0.0.0.0");
  });
});

describe("nats/sites/*.conf as run on one machine", () => {
  it("bind every listener (client, leafnode, WebSocket) to the given host: each `port:` block names its host", () => {
    for (const name of ["hub.conf", "site.conf"]) {
      const conf = readFileSync(new URL(`../nats/sites/${name}`, import.meta.url), "utf8");
      // A block with a port but no host listens on every interface, whatever the host rewrite does.
      const ports = conf.match(/^\s*port: /gm) ?? [];
      const withHost = conf.match(/^\s*host: 0\.0\.0\.0\n\s*port: /gm) ?? [];
      expect(withHost.length, name).toBe(ports.length);
      expect(siteConfigText(conf, true, "127.0.0.1"), name).not.toContain("0.0.0.0");
    }
  });
});
