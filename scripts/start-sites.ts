/**
 * `npm run start:sites [-- <site> …]`: a hub and its sites on one machine (README "Sites"). A hub
 * nats-server (JetStream domain `hub`, leaf and WebSocket listeners) with payment, shipping,
 * notification and an order service of its own (SITES=<the sites>); per site (default edge1 and
 * edge2) a leaf nats-server (domain = the site's name) with a leafnode remote to the hub, and the
 * site's order service (SITE=<site>). Configs from nats/sites/, every listener on 127.0.0.1, data
 * under .data/sites/. Ctrl-C (or SIGTERM) drains the services, then stops the servers. Without auth
 * and without Jaeger/VictoriaLogs: this shows the sites; `npm start` is the full single-site system.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { localUrlOf } from "../shared/config.ts";
import { isSiteName } from "../shared/ids.ts";
import type { ServiceName } from "../nats/subjects.ts";
import { findNatsServer, freePort, isPortFree, NATS_INSTALL_HINT } from "./nats-binary.ts";
import { buildBundles, serviceBundleArgs } from "./build.ts";
import { hubServerEnv, LOCAL_HUB_DOMAIN, siteServerEnv, writeHubConfig, writeSiteConfig } from "./site-servers.ts";
import { processAlive } from "./supervise.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const dataDir = `${root}.data/sites`;
const lockFile = `${dataDir}/start-sites.pid`;
const host = "127.0.0.1";
const children: { name: string; proc: ChildProcess; server: boolean }[] = [];
let stopping = false;

const sites = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["edge1", "edge2"];
for (const site of sites) {
  if (!isSiteName(site) || site === LOCAL_HUB_DOMAIN) {
    console.error(
      `start:sites: "${site}" is not a site name: lower-case letters, digits and inner dashes, at most 16, not "${LOCAL_HUB_DOMAIN}"`,
    );
    process.exit(2);
  }
}

// One at a time per checkout: two would share .data/sites.
mkdirSync(dataDir, { recursive: true });
if (existsSync(lockFile)) {
  const pid = Number(readFileSync(lockFile, "utf8"));
  if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) {
    console.error(`start:sites: already running in this checkout (pid ${pid}); stop it first (Ctrl-C there, or kill ${pid}).`);
    process.exit(1);
  }
}
writeFileSync(lockFile, String(process.pid));

function pipeWithPrefix(name: string, proc: ChildProcess, keep: (line: string) => boolean = () => true): void {
  const tag = `[${name}]`.padEnd(20);
  for (const stream of [proc.stdout, proc.stderr]) {
    if (stream) createInterface({ input: stream }).on("line", (line) => keep(line) && console.log(`${tag}${line}`));
  }
}

async function waitForPort(port: number, what: string): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (!(await isPortFree(port))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not open port ${port} within 15 s`);
}

async function portOr(preferred: number): Promise<number> {
  return (await isPortFree(preferred, host)) ? preferred : freePort();
}

async function startServer(binary: string, name: string, conf: string, port: number, env: Record<string, string>): Promise<string> {
  const storeDir = `${dataDir}/${name}`;
  mkdirSync(storeDir, { recursive: true });
  // Its own process group: Ctrl-C must not stop a server before the services have drained.
  const proc = spawn(binary, ["-c", conf, "-a", host, "-p", String(port), "-js", "-sd", storeDir], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    env: { ...process.env, ...env },
  });
  children.push({ name: `nats ${name}`, proc, server: true });
  process.on("exit", () => proc.kill("SIGTERM"));
  pipeWithPrefix(
    `nats ${name}`,
    proc,
    (line) => /\[(WRN|ERR|FTL)\]|Leafnode connection/.test(line) && !/Websocket not configured with TLS/.test(line),
  );
  proc.on("exit", (code) => {
    if (!stopping) {
      console.error(`nats-server ${name} exited (code ${code}); stopping.`);
      void stopAll(1);
    }
  });
  await waitForPort(port, `nats-server ${name}`);
  return `nats://${host}:${port}`;
}

function startService(label: string, name: ServiceName, env: Record<string, string>): void {
  const proc = spawn(process.execPath, serviceBundleArgs(name), {
    cwd: root,
    env: { ...process.env, OTEL_TRACES_EXPORTER: process.env.OTEL_TRACES_EXPORTER ?? "none", HOST: host, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push({ name: label, proc, server: false });
  pipeWithPrefix(label, proc);
  proc.on("exit", (code, signal) => {
    if (!stopping) console.error(`${label} exited (${signal ?? `code ${code}`}); the others keep running.`);
  });
}

function exitOf(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill("SIGKILL"), 12_000);
    proc.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill(signal);
  });
}

async function stopAll(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(children.filter((c) => !c.server).map((c) => exitOf(c.proc, "SIGTERM")));
  await Promise.all(children.filter((c) => c.server).map((c) => exitOf(c.proc, "SIGTERM")));
  rmSync(lockFile, { force: true });
  process.exit(code);
}

process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));
process.on("SIGHUP", () => void stopAll(0));

const binary = findNatsServer();
if (!binary) {
  console.error(`start:sites: ${NATS_INSTALL_HINT}`);
  rmSync(lockFile, { force: true });
  process.exit(1);
}
try {
  await buildBundles();
  const leafPorts = { leaf: await portOr(7422), ws: await portOr(8080) };
  const hubUrl = await startServer(binary, "hub", writeHubConfig(`${dataDir}/hub.conf`, host), await portOr(4222), hubServerEnv(leafPorts));
  const hubPorts = { order: 0, payment: 0, shipping: 0, notification: 0 };
  // The hub's services first: the return consumer each site's stream sources must exist.
  for (const [i, name] of (["payment", "shipping", "notification", "order"] as const).entries()) {
    hubPorts[name] = await portOr([3001, 3002, 3003, 3000][i]!);
    startService(`hub ${name}`, name, { NATS_URL: hubUrl, PORT: String(hubPorts[name]), SITES: sites.join(",") });
  }
  const siteLines: string[] = [];
  const siteNats: string[] = [];
  for (const [i, site] of sites.entries()) {
    const conf = writeSiteConfig(`${dataDir}/${site}.conf`, true, host);
    const wsPort = await portOr(8081 + i);
    const natsUrl = await startServer(
      binary,
      site,
      conf,
      await portOr(4223 + i),
      siteServerEnv(site, `nats-leaf://${host}:${leafPorts.leaf}`, wsPort),
    );
    siteNats.push(natsUrl);
    const port = await portOr(3010 + 10 * i);
    startService(`${site} order`, "order", { NATS_URL: natsUrl, PORT: String(port), SITE: site });
    siteLines.push(
      `  ${site.padEnd(14)} order API ${localUrlOf(host, port)}/orders   NATS ${natsUrl}, ws://${host}:${wsPort} (JetStream domain ${site})`,
    );
  }
  const hubOrder = localUrlOf(host, hubPorts.order);
  const first = sites[0]!;
  console.log(`
orderstream sites are starting: a hub and ${sites.length} site${sites.length > 1 ? "s" : ""} (${sites.join(", ")})
  hub            NATS ${hubUrl} (JetStream domain ${LOCAL_HUB_DOMAIN}; leaf nodes nats-leaf://${host}:${leafPorts.leaf}, ws://${host}:${leafPorts.ws})
                 order API ${hubOrder}/orders (every site's orders: /orders/<orderId>, /events, /view)
                 payment ${localUrlOf(host, hubPorts.payment)}  shipping ${localUrlOf(host, hubPorts.shipping)}  notification ${localUrlOf(host, hubPorts.notification)}/users/<userId>/notifications
${siteLines.join("\n")}
  try: curl -XPOST ${siteLines.length ? siteLines[0]!.split("order API ")[1]!.split(" ")[0] : ""} -H 'content-type: application/json' -d '{"userId":"u1","amount":42}'
  ${first}'s orders waiting for the hub: nats --server ${siteNats[0]} consumer info ORDERS to-hub
  data in ${dataDir}; listening on ${host} only
Ctrl-C stops everything.
`);
} catch (err) {
  console.error(`start:sites: ${(err as Error).message}`);
  await stopAll(1);
}
