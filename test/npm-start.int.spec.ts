/**
 * A real `npm start` (npm → sh → scripts/start.ts → nats-server, the four services, Jaeger and
 * VictoriaLogs when installed) under a supervisor's signals: SIGTERM or SIGHUP to npm, SIGKILL to the
 * start script — every process it started is gone within 15 s and its ports are free; and a second
 * `npm start` in the same checkout refuses, naming the first, which keeps working. Each run gets its
 * own data directory (ORDERSTREAM_DATA_DIR) and free ports, so none touches the checkout's .data.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { childEnv, REPO_ROOT, waitUntil } from "./support/processes.ts";
import { runCli } from "./support/cli.ts";
import { postOrder, waitForStatus } from "./support/system.ts";
import { freePort, isPortFree } from "../scripts/nats-binary.ts";
import { processAlive, type StartLock } from "../scripts/supervise.ts";

const STOP_BUDGET_MS = 15_000;
const started: Started[] = [];
let dataDir: string;

interface Started {
  npm: ChildProcess;
  env: Record<string, string>;
  output(): string;
  /** The exit code of npm once it has exited, else undefined. */
  exit(): number | null | undefined;
  /** Its processes once up: what the clean-up kills when npm itself is gone (they are not its descendants then). */
  pids: number[];
}

/** `npm start` as a supervisor runs it: its own process group, no terminal, NATS_URL unset. */
function npmStart(env: Record<string, string>, args: string[] = []): Started {
  const npm = spawn("npm", ["start", ...(args.length > 0 ? ["--", ...args] : [])], {
    cwd: REPO_ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  let code: number | null | undefined;
  npm.stdout!.on("data", (d) => (out += d));
  npm.stderr!.on("data", (d) => (out += d));
  npm.on("exit", (c, signal) => (code = c ?? (signal ? null : c)));
  const s: Started = { npm, env, output: () => out, exit: () => code, pids: [] };
  started.push(s);
  return s;
}

async function startEnv(): Promise<Record<string, string>> {
  const env = childEnv({ ORDERSTREAM_DATA_DIR: dataDir, NATS_PORT: String(await freePort()) });
  for (const name of ["ORDER", "PAYMENT", "SHIPPING", "NOTIFICATION", "LOYALTY"]) env[`${name}_PORT`] = String(await freePort());
  // Traces on: npm start then runs Jaeger (when it is installed), one more process to see stopped.
  delete env.OTEL_TRACES_EXPORTER;
  return env;
}

/** The live descendants of `pid` (from /proc), children first. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] !== "Z") parents.set(Number(entry), Number(fields[1]));
    } catch {
      /* gone meanwhile */
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const [child, parent] of parents) {
      if (parent !== p) continue;
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/** Alive and not a zombie. */
function running(pid: number): boolean {
  if (!processAlive(pid)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
  } catch {
    return "(gone)";
  }
}

function readLock(): StartLock {
  return JSON.parse(readFileSync(join(dataDir, "npm-start.lock"), "utf8")) as StartLock;
}

/** Waits for the banner and the lock's endpoints; returns the processes and ports it started. */
async function whenUp(s: Started): Promise<{ pids: number[]; ports: number[]; startPid: number; lock: StartLock }> {
  await waitUntil(async () => s.exit() !== undefined || /orderstream is starting against/.test(s.output()), {
    timeoutMs: 90_000,
    intervalMs: 200,
    what: "npm start's banner",
  });
  expect(s.exit(), s.output()).toBeUndefined();
  const lock = await waitUntil(async () => (readLock().endpoints ? readLock() : null), { timeoutMs: 10_000, what: "the lock's endpoints" });
  // All four ready (consumers bound): a service stopped while it still binds them cannot drain cleanly.
  for (const name of ["order", "payment", "shipping", "notification"]) {
    const url = lock.endpoints![name]!;
    await waitUntil(async () => (await fetch(`${url}/readyz`)).status === 200, {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: `the ${name} service ready`,
    });
  }
  const ports = Object.values(lock.endpoints!).map((url) => Number(new URL(url).port));
  const pids = descendants(s.npm.pid!);
  s.pids = pids;
  return { pids, ports, startPid: lock.pid, lock };
}

/** Every process gone and every port free within the budget; returns how long it took. */
async function allGone(pids: number[], ports: number[], s: Started): Promise<number> {
  const t0 = Date.now();
  await waitUntil(async () => pids.every((p) => !running(p)), {
    timeoutMs: STOP_BUDGET_MS,
    intervalMs: 100,
    what: "every process npm start ran to exit",
  }).catch((err) => {
    const left = pids.filter(running).map((p) => `${p} ${commandOf(p)}`);
    throw new Error(`${(err as Error).message}; still running:\n${left.join("\n")}\n--- output:\n${s.output().slice(-3000)}`);
  });
  const elapsed = Date.now() - t0;
  for (const port of ports) expect(await isPortFree(port), `port ${port} still taken`).toBe(true);
  return elapsed;
}

/** Every service drained and exited 0, then nats-server exited 0, as npm start's last line says. */
function expectDrained(s: Started): void {
  expect(s.output().match(/drained; bye/g)?.length ?? 0, s.output().slice(-3000)).toBe(4);
  expect(s.output(), s.output().slice(-3000)).toMatch(
    /npm start: stopped in \d+\.\d s: order 0, payment 0, shipping 0, notification 0, nats-server 0/,
  );
}

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), "orderstream-npm-start-"));
});

afterEach(async () => {
  // A failed assertion must not leave a system running: SIGKILL whatever is left of this test's trees.
  for (const s of started.splice(0)) {
    for (const pid of new Set([...descendants(s.npm.pid!), ...s.pids.filter(running), s.npm.pid!])) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }
});

afterAll(() => {
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe("npm start under a supervisor", () => {
  it("refuses a second npm start in the same checkout, naming the first, which keeps working; SIGTERM to npm then stops everything within 15 s", async () => {
    const first = npmStart(await startEnv());
    const { pids, ports, startPid, lock } = await whenUp(first);
    // npm, sh, the start script, nats-server and the four services at least.
    expect(pids.length, pids.map(commandOf).join("\n")).toBeGreaterThanOrEqual(6);
    const localNats = readFileSync(join(dataDir, "nats", "local.json"), "utf8");
    // Its server fsyncs before every PubAck unless NATS_SYNC_INTERVAL says otherwise (scripts/local-nats-config.ts).
    expect(readFileSync(join(dataDir, "nats", "server.conf"), "utf8")).toMatch(/^ {2}sync_interval: always$/m);
    expect(first.output()).toMatch(/sync_interval always, set by NATS_SYNC_INTERVAL/);
    const observability = existsSync(join(dataDir, "observability.json"))
      ? readFileSync(join(dataDir, "observability.json"), "utf8")
      : null;

    const second = npmStart(await startEnv());
    await waitUntil(async () => second.exit() !== undefined, { timeoutMs: 60_000, what: "the second npm start to exit" });
    expect(second.exit(), second.output()).toBe(1);
    const refusal = second
      .output()
      .split("\n")
      .filter((l) => /already running/.test(l));
    expect(refusal, second.output()).toHaveLength(1);
    expect(refusal[0]).toContain(`pid ${startPid}`);
    expect(refusal[0]).toContain(lock.endpoints!.nats!);
    expect(refusal[0]).toContain(lock.endpoints!.order!);
    expect(second.output()).not.toMatch(/Started nats-server|built dist/);
    // Nothing of the first was rewritten or removed.
    expect(readFileSync(join(dataDir, "nats", "local.json"), "utf8")).toBe(localNats);
    if (observability) expect(readFileSync(join(dataDir, "observability.json"), "utf8")).toBe(observability);
    expect(readLock().pid).toBe(startPid);

    // The first still works, and its CLI still finds its server through the data directory.
    const order = await postOrder(lock.endpoints!.order!, { userId: "npm-start", amount: 5 });
    expect(order.status).toBe(201);
    await waitForStatus(lock.endpoints!.order!, order.body.orderId, ["SHIPPING_READY"]);
    const cliEnv = Object.fromEntries(Object.entries(first.env).filter(([k]) => !k.startsWith("NATS_")));
    const events = await runCli(["events", order.body.orderId, "--json"], cliEnv);
    expect(events.code, events.stderr).toBe(0);
    expect(JSON.parse(events.stdout).map((e: { eventType: string }) => e.eventType)).toEqual([
      "ORDER_CREATED",
      "PAYMENT_COMPLETED",
      "SHIPPING_READY",
    ]);

    process.kill(first.npm.pid!, "SIGTERM");
    const ms = await allGone(pids, ports, first);
    console.log(`SIGTERM to npm: ${pids.length} processes gone in ${ms} ms`);
    // The services drained (SIGTERM, in-flight work finished, exit 0) rather than being killed.
    expectDrained(first);
    expect(existsSync(join(dataDir, "npm-start.lock"))).toBe(false);
  });

  it("starts the opt-in loyalty service with --with loyalty, and stops it with the rest; refuses an unknown one before anything starts", async () => {
    const unknown = npmStart(await startEnv(), ["--with", "points"]);
    await waitUntil(async () => unknown.exit() !== undefined, { timeoutMs: 60_000, what: "npm start --with points to exit" });
    expect(unknown.exit(), unknown.output()).toBe(1);
    expect(unknown.output()).toMatch(/npm start: --with points: no such service \(services started only when asked: loyalty\)/);
    expect(unknown.output()).not.toMatch(/Started nats-server|built dist/);
    expect(existsSync(join(dataDir, "npm-start.lock"))).toBe(false);

    const s = npmStart(await startEnv(), ["--with", "loyalty"]);
    const { pids, ports, lock } = await whenUp(s);
    const loyaltyUrl = lock.endpoints!.loyalty!;
    expect(loyaltyUrl, JSON.stringify(lock.endpoints)).toBe(`http://127.0.0.1:${s.env.LOYALTY_PORT}`);
    expect(s.output()).toContain(`loyalty        ${loyaltyUrl}/users/<userId>/points`);
    await waitUntil(async () => (await fetch(`${loyaltyUrl}/readyz`)).status === 200, {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: "the loyalty service ready (its own NATS user on npm start's server)",
    });
    expect(await (await fetch(`${loyaltyUrl}/users/u1/points`)).json()).toEqual({ userId: "u1", points: 0, orders: 0 });
    process.kill(s.npm.pid!, "SIGTERM");
    await allGone(pids, ports, s);
    expect(s.output(), s.output().slice(-3000)).toMatch(
      /npm start: stopped in \d+\.\d s: order 0, payment 0, shipping 0, notification 0, loyalty 0, nats-server 0/,
    );
  });

  it("refuses a NATS_SYNC_INTERVAL nats-server would not read as meant, before it starts or writes anything", async () => {
    const bad = npmStart({ ...(await startEnv()), NATS_SYNC_INTERVAL: "5" });
    await waitUntil(async () => bad.exit() !== undefined, { timeoutMs: 60_000, what: "npm start to exit" });
    expect(bad.exit(), bad.output()).toBe(1);
    expect(bad.output()).toMatch(/npm start: NATS_SYNC_INTERVAL=5 has no unit .*give "always"/);
    expect(bad.output()).not.toMatch(/Started nats-server|built dist/);
    expect(existsSync(join(dataDir, "npm-start.lock"))).toBe(false);
  });

  it("stops everything within 15 s when the start script is SIGKILLed (the kernel's parent-death signal)", async () => {
    const s = npmStart(await startEnv());
    const { pids, ports, startPid } = await whenUp(s);
    expect(commandOf(startPid)).toContain("scripts/start.ts");
    process.kill(startPid, "SIGKILL");
    const ms = await allGone(
      pids.filter((p) => p !== startPid),
      ports,
      s,
    );
    console.log(`SIGKILL to the start script: ${pids.length} processes gone in ${ms} ms`);
    // Its lock stays behind, naming a pid that is gone: the next start takes it over.
    expect(readLock().pid).toBe(startPid);
  });

  it.each(["SIGTERM", "SIGHUP"] as const)("stops everything within 15 s on %s to the start script itself", async (signal) => {
    const s = npmStart(await startEnv());
    const { pids, ports, startPid } = await whenUp(s);
    process.kill(startPid, signal);
    const ms = await allGone(pids, ports, s);
    console.log(`${signal} to the start script: ${pids.length} processes gone in ${ms} ms`);
    expectDrained(s);
  });

  it("takes over the stale lock, and stops everything within 15 s on SIGHUP to npm (which npm does not pass on)", async () => {
    // A lock left by a SIGKILLed start (as the test before leaves one): its pid is gone.
    const gone = spawn("true");
    await new Promise((resolve) => gone.once("exit", resolve));
    writeFileSync(join(dataDir, "npm-start.lock"), JSON.stringify({ pid: gone.pid, startedAt: "earlier" }));
    const s = npmStart(await startEnv());
    const { pids, ports } = await whenUp(s);
    expect(s.output()).toMatch(/taking over .*npm-start\.lock: the npm start that held it \(pid \d+\) is gone/);
    process.kill(s.npm.pid!, "SIGHUP");
    const ms = await allGone(pids, ports, s);
    console.log(`SIGHUP to npm: ${pids.length} processes gone in ${ms} ms`);
    expectDrained(s);
  });
});
