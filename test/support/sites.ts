/**
 * A hub and its sites for integration tests: a hub nats-server (JetStream domain `hub`, leaf and
 * WebSocket listeners) with the central services, and per site a leaf nats-server (domain = the
 * site's name) with a leafnode remote to the hub and the site's order service — every one a real
 * process on loopback, from the configs in nats/sites/. A site's link is cut by reloading its server
 * with the leafnode block left out, and restored the same way; the hub can be killed and restarted.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../scripts/nats-binary.ts";
import { hubServerEnv, siteServerEnv, writeHubConfig, writeSiteConfig } from "../../scripts/site-servers.ts";
import { startNatsServer, type NatsServerHandle } from "./nats-server.ts";
import { startService, waitUntil, type ServiceName, type ServiceProcess, type StartServiceOptions } from "./processes.ts";

export interface SitesOptions {
  /** Site names (default edge1, edge2). */
  sites?: string[];
  /** The hub's services (default payment, shipping, notification, order), one instance each. */
  hubServices?: ServiceName[];
  /** Env for every service (hub and sites). */
  env?: Record<string, string>;
  /** How the sites' leafnode remotes reach the hub (default tcp: `nats-leaf://`; ws: `ws://`), for all or per site. */
  leafTransport?: "tcp" | "ws" | Record<string, "tcp" | "ws">;
  /** Start each site's order service (default true); false to start them with startSiteService. */
  siteServices?: boolean;
}

export interface SiteHandle {
  name: string;
  nats: NatsServerHandle;
  /** ws://127.0.0.1:<port> of the site server's WebSocket listener for clients (open with the link cut too). */
  wsUrl: string;
  /** http://127.0.0.1:<port> of the site server's monitoring endpoint (/connz, /leafz, …). */
  monitorUrl: string;
  /** The site's order service (the first started). */
  order?: ServiceProcess;
  services: ServiceProcess[];
  /** Drops the leafnode remote (config reload) and waits until the server says the link is gone. */
  cut(): Promise<void>;
  /** Puts the remote back (config reload) and waits until the leaf connection is up again. */
  restore(): Promise<void>;
}

export interface Sites {
  hub: NatsServerHandle;
  hubServices: ServiceProcess[];
  hubOrderUrl: string;
  hubNotificationUrl: string;
  /** nats-leaf:// and ws:// URLs of the hub's leaf listeners. */
  hubLeafUrls: { tcp: string; ws: string };
  site(name: string): SiteHandle;
  /**
   * Starts a service at a site with any NATS_URL (default: the site's server over TCP) — e.g. a
   * `ws://` URL or a Deno entry through `opts.command`.
   */
  startSiteService(site: string, env?: Record<string, string>, opts?: StartServiceOptions): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

const HUB_SERVICES: ServiceName[] = ["payment", "shipping", "notification", "order"];

async function reload(server: NatsServerHandle): Promise<void> {
  const before = server
    .logs()
    .split("\n")
    .filter((l) => l.includes("Reloaded server configuration")).length;
  process.kill(server.pid, "SIGHUP");
  await waitUntil(
    async () =>
      server
        .logs()
        .split("\n")
        .filter((l) => l.includes("Reloaded server configuration")).length > before,
    {
      timeoutMs: 10_000,
      what: "nats-server to reload its configuration",
    },
  );
}

/** Leaf connections the server has now, from its monitoring endpoint. */
async function leafConnections(monitorPort: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${monitorPort}/leafz`);
  const body = (await res.json()) as { leafnodes?: number };
  return body.leafnodes ?? 0;
}

export async function startSites(opts: SitesOptions = {}): Promise<Sites> {
  const siteNames = opts.sites ?? ["edge1", "edge2"];
  const dir = await mkdtemp(join(tmpdir(), "orderstream-sites-"));
  const ports = { leaf: await freePort(), ws: await freePort() };
  const hubLeafUrls = { tcp: `nats-leaf://127.0.0.1:${ports.leaf}`, ws: `ws://127.0.0.1:${ports.ws}` };
  const started: { servers: NatsServerHandle[]; services: ServiceProcess[] } = { servers: [], services: [] };
  const stopAll = async () => {
    await Promise.all(started.services.map((s) => s.stop("SIGTERM").catch(() => s.kill())));
    await Promise.all(started.servers.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const hub = await startNatsServer({ configFile: writeHubConfig(join(dir, "hub.conf")), env: hubServerEnv(ports) });
    started.servers.push(hub);
    const baseEnv = { ...opts.env };
    const hubServices: ServiceProcess[] = [];
    // The hub's services first: the return consumers a site's source resets must exist.
    for (const name of opts.hubServices ?? HUB_SERVICES) {
      const s = await startService(name, { ...baseEnv, NATS_URL: hub.url, SITES: siteNames.join(",") });
      hubServices.push(s);
      started.services.push(s);
    }
    const transportOf = (site: string) => (typeof opts.leafTransport === "object" ? opts.leafTransport[site] : opts.leafTransport) ?? "tcp";
    const sites = new Map<string, SiteHandle>();
    for (const name of siteNames) {
      const conf = join(dir, `${name}.conf`);
      writeSiteConfig(conf, true);
      const monitor = await freePort();
      const wsPort = await freePort();
      const leafUrl = transportOf(name) === "ws" ? hubLeafUrls.ws : hubLeafUrls.tcp;
      const nats = await startNatsServer({ configFile: conf, env: siteServerEnv(name, leafUrl, wsPort), args: ["-m", String(monitor)] });
      started.servers.push(nats);
      await waitUntil(async () => (await leafConnections(monitor)) > 0, {
        timeoutMs: 15_000,
        what: `site ${name}'s leaf connection to the hub`,
      });
      const handle: SiteHandle = {
        name,
        nats,
        wsUrl: `ws://127.0.0.1:${wsPort}`,
        monitorUrl: `http://127.0.0.1:${monitor}`,
        services: [],
        async cut() {
          writeSiteConfig(conf, false);
          await reload(nats);
          await waitUntil(async () => (await leafConnections(monitor)) === 0, { timeoutMs: 10_000, what: `site ${name}'s link to close` });
        },
        async restore() {
          writeSiteConfig(conf, true);
          await reload(nats);
          await waitUntil(async () => (await leafConnections(monitor)) > 0, {
            timeoutMs: 15_000,
            what: `site ${name}'s link to come back`,
          });
        },
      };
      sites.set(name, handle);
    }
    const startSiteService = async (site: string, env: Record<string, string> = {}, serviceOpts: StartServiceOptions = {}) => {
      const handle = sites.get(site);
      if (!handle) throw new Error(`no site ${site} (sites: ${siteNames.join(", ")})`);
      const s = await startService("order", { ...baseEnv, NATS_URL: handle.nats.url, SITE: site, ...env }, serviceOpts);
      handle.services.push(s);
      handle.order ??= s;
      started.services.push(s);
      return s;
    };
    if (opts.siteServices ?? true) for (const name of siteNames) await startSiteService(name);
    const first = (n: ServiceName) => hubServices.find((s) => s.name === n)?.baseUrl ?? "";
    return {
      hub,
      hubServices,
      hubOrderUrl: first("order"),
      hubNotificationUrl: first("notification"),
      hubLeafUrls,
      site(name) {
        const handle = sites.get(name);
        if (!handle) throw new Error(`no site ${name}`);
        return handle;
      },
      startSiteService,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
