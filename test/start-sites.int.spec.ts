/**
 * `npm run start:sites` as a user runs it: the script as a real process, its banner's addresses, an
 * order placed at a site completing through the hub, a site's ws:// listener, a second start
 * refused, and SIGTERM stopping every process it started.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { wsconnect } from "@nats-io/transport-node";
import { REPO_ROOT, childEnv, waitUntil } from "./support/processes.ts";
import { getJson, postOrder, waitForStatus } from "./support/system.ts";
import { processAlive } from "../scripts/supervise.ts";

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

function startSites(): { proc: ChildProcess; output: () => string; exited: Promise<number | null> } {
  // No NATS_URL and tracing off, as childEnv gives every test service; the script starts its own servers.
  const proc = spawn(process.execPath, ["--import", "tsx", "scripts/start-sites.ts"], {
    cwd: REPO_ROOT,
    env: childEnv({}),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(proc);
  let text = "";
  proc.stdout!.setEncoding("utf8").on("data", (c: string) => (text += c));
  proc.stderr!.setEncoding("utf8").on("data", (c: string) => (text += c));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return { proc, output: () => text, exited };
}

/** PIDs whose parent is `pid`, from /proc. */
function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return out;
}

describe("npm run start:sites", () => {
  it("starts a hub and two sites, prints where they are, takes an order at a site, refuses a second start, and SIGTERM stops everything", async () => {
    const run = startSites();
    const banner = await waitUntil(async () => (run.output().includes("Ctrl-C stops everything.") ? run.output() : undefined), {
      timeoutMs: 60_000,
      what: `start:sites' banner (output so far: ${run.output().slice(-2000)})`,
    });
    const siteApi = /edge1\s+order API (http:\/\/127\.0\.0\.1:\d+)\/orders/.exec(banner)?.[1];
    const hubApi = /order API (http:\/\/127\.0\.0\.1:\d+)\/orders \(every site's orders/.exec(banner)?.[1];
    expect(siteApi, banner).toBeDefined();
    expect(hubApi, banner).toBeDefined();
    expect(banner).toMatch(/edge2\s+order API http:\/\/127\.0\.0\.1:\d+\/orders/);
    const pids = childPids(run.proc.pid!);
    // Three nats-servers (the hub, edge1, edge2), the hub's four services, the sites' two.
    expect(pids.length).toBeGreaterThanOrEqual(9);

    await waitUntil(async () => (await fetch(`${siteApi}/readyz`)).status === 200, {
      timeoutMs: 60_000,
      what: "edge1's order service ready",
    });
    await waitUntil(async () => (await fetch(`${hubApi}/readyz`)).status === 200, {
      timeoutMs: 60_000,
      what: "the hub's order service ready",
    });
    // Each site's server also takes NATS clients over WebSocket, at the ws:// URL the banner gives.
    const siteWs = /edge1\s+order API \S+\s+NATS \S+, (ws:\/\/127\.0\.0\.1:\d+)/.exec(banner)?.[1];
    expect(siteWs, banner).toBeDefined();
    const ws = await wsconnect({ servers: siteWs!, name: "start-sites-test" });
    expect(ws.info?.server_name).toBe("edge1");
    await ws.close();
    const { status, body } = await postOrder(siteApi!, { userId: "start-sites", amount: 42 });
    expect(status).toBe(201);
    expect(body.orderId).toMatch(/^edge1-/);
    await waitForStatus(siteApi!, body.orderId, ["SHIPPING_READY"], 30_000);
    expect((await getJson(`${hubApi}/orders/${body.orderId}`)).body.status).toBe("SHIPPING_READY");

    const second = startSites();
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(/already running in this checkout/);

    const started = Date.now();
    run.proc.kill("SIGTERM");
    expect(await run.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
    await waitUntil(async () => pids.every((p) => !processAlive(p)), {
      timeoutMs: 5_000,
      what: "every process start:sites started to be gone",
    });
  }, 180_000);
});
