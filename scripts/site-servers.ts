/**
 * The nats-server configs of a hub and its sites (nats/sites/*.conf) as `npm run start:sites`, the
 * bench and the tests run them on one machine: every listener on loopback, the store a flag, and a
 * site's config written to a file of its own so that the link can be cut and restored with a reload.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const HUB_CONF = fileURLToPath(new URL("../nats/sites/hub.conf", import.meta.url));
const SITE_CONF = fileURLToPath(new URL("../nats/sites/site.conf", import.meta.url));

/** The hub's JetStream domain in every local run (HUB_DOMAIN's default). */
export const LOCAL_HUB_DOMAIN = "hub";

function onLoopback(conf: string, host: string): string {
  return conf.replaceAll("0.0.0.0", host);
}

/** Writes the hub's config to `path` (listeners on `host`); run it with the env of hubServerEnv. */
export function writeHubConfig(path: string, host = "127.0.0.1"): string {
  writeFileSync(path, onLoopback(readFileSync(HUB_CONF, "utf8"), host));
  return path;
}

export function hubServerEnv(ports: { leaf: number; ws: number }): Record<string, string> {
  return { HUB_DOMAIN: LOCAL_HUB_DOMAIN, HUB_LEAF_PORT: String(ports.leaf), HUB_WS_PORT: String(ports.ws) };
}

/**
 * Writes a site's config to `path`, with its link to the hub (`linked`) or without (the leafnode
 * block between the `link-begin` / `link-end` markers left out: a reload then drops the link).
 */
export function writeSiteConfig(path: string, linked: boolean, host = "127.0.0.1"): string {
  writeFileSync(path, siteConfigText(readFileSync(SITE_CONF, "utf8"), linked, host));
  return path;
}

/** nats/sites/site.conf's text as run here: listeners on `host`, the leafnode block kept or left out. */
export function siteConfigText(template: string, linked: boolean, host = "127.0.0.1"): string {
  const conf = onLoopback(template, host);
  return linked ? conf : conf.replace(/^# link-begin[\s\S]*^# link-end.*$/m, "# link cut: no leafnode remote\n");
}

/**
 * The env of a site's server: its name, where the hub takes leaf connections (`nats-leaf://` or
 * `ws://`) and the port of its own WebSocket listener for clients.
 */
export function siteServerEnv(site: string, hubLeafUrl: string, wsPort: number): Record<string, string> {
  return { SITE: site, HUB_LEAF_URL: hubLeafUrl, SITE_WS_PORT: String(wsPort) };
}
