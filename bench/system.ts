/**
 * The system under benchmark: its own nats-server (temp store) and the four services as separate
 * `node <SERVICE_NODE_ARGS> dist/service.mjs <name>` processes (the bundle, built once per bench
 * run), the way production runs them. Records the
 * time from spawn to the first `/readyz` 200, and reads CPU time and peak RSS from /proc.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { startNatsServer, type NatsServerHandle } from "../test/support/nats-server.ts";
import { childEnv, REPO_ROOT } from "../test/support/processes.ts";
import { freePort } from "../scripts/nats-binary.ts";
import { buildBundles, SERVICE_BUNDLE, SERVICE_NODE_ARGS } from "../scripts/build.ts";
// The default system (the four): what the benchmarks have always measured; an opt-in service is not in it.
import { DEFAULT_SERVICES as SERVICES, type ServiceName } from "../nats/subjects.ts";
import { connectNats } from "../nats/connect.ts";

const READY_POLL_MS = 10;
const READY_TIMEOUT_MS = 60_000;
const CLK_TCK = 100; // USER_HZ on Linux

export interface BenchService {
  name: ServiceName;
  pid: number;
  baseUrl: string;
  /** spawn → first GET /readyz 200, in ms */
  readyMs: number;
  /** resident set size right after ready, MiB */
  rssAtReadyMiB: number;
  /** Peak resident set size so far (VmHWM), in MiB; NaN when /proc is unreadable. */
  peakRssMiB(): number;
  /**
   * Peak of the anonymous part (RssAnon: heap, stacks, buffers — what the process allocates),
   * sampled every 250 ms. The rest of RSS is the node binary's and libraries' pages mapped from
   * files, shared by every process that runs them, and it moves with the page cache: the same
   * build measured 68–70 and 85 MiB at ready on this machine within ten minutes (BENCHMARKS.md).
   */
  peakAnonMiB(): number;
  /** RssFile at ready, in MiB. */
  fileRssAtReadyMiB: number;
  /** user+system CPU seconds used so far */
  cpuSeconds(): number;
  output(): string;
  stop(): Promise<void>;
}

export interface SystemOptions {
  label: string;
  /** Extra env for every service (tracing settings). */
  env?: Record<string, string>;
  /** Write a V8 CPU profile of every service into this directory (node --cpu-prof). */
  cpuProfDir?: string;
  /** Node flags for the services instead of SERVICE_NODE_ARGS (bench/memory.ts compares them). */
  nodeArgs?: string[];
  /** Bundle to run instead of SERVICE_BUNDLE (bench/memory.ts compares builds of two commits). */
  bundle?: string;
  /** Other processes the system uses (e.g. VictoriaLogs), whose CPU time counts as the system's. */
  companions?: { name: string; pid: number }[];
  /**
   * How the services reach nats-server (`npm run bench -- --ws`). When given, either way, the
   * server also opens a WebSocket listener, so both runs of the comparison have the same server.
   */
  servicesOver?: "tcp" | "websocket";
  /** A config file for nats-server (`-c`; e.g. npm start's sync setting, bench/sync-interval.ts). */
  natsConfigFile?: string;
}

export interface BenchSystem {
  label: string;
  nats: NatsServerHandle;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  services: BenchService[];
  orderUrl: string;
  natsCpuSeconds(): number;
  /** CPU seconds of each companion process (SystemOptions.companions) so far. */
  companionCpuSeconds(): Record<string, number>;
  /**
   * Messages nats-server received and sent so far (its /varz in_msgs and out_msgs), minus the
   * bench's own connection's traffic: what the services exchanged with the server.
   */
  natsServiceMessages(): Promise<{ in: number; out: number }>;
  stop(): Promise<void>;
}

/** CPU seconds (utime+stime) of a process from /proc/<pid>/stat. */
export interface BareServer {
  server: NatsServerHandle;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/**
 * Runs `use` against a private nats-server with nothing on it (temp store, free loopback port),
 * through a connection with the services' settings (`connectNats`); closes both afterwards.
 */
export async function onBareServer<T>(name: string, use: (bare: BareServer) => Promise<T>): Promise<T> {
  const server = await startNatsServer();
  try {
    const nc = await connectNats({ servers: [server.url], name, failFast: true });
    try {
      return await use({ server, nc, js: jetstream(nc), jsm: await jetstreamManager(nc) });
    } finally {
      await nc.close();
    }
  } finally {
    await server.stop();
  }
}

export function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

const ANON_SAMPLE_MS = 250;

/** A `kB` line of /proc/<pid>/status (VmHWM, VmRSS, RssAnon, RssFile), in MiB. */
export function procStatusMiB(pid: number, key: "VmHWM" | "VmRSS" | "RssAnon" | "RssFile"): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status);
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Children still running; killed if the bench process exits early (one hook for all of them). */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function spawnService(
  name: ServiceName,
  env: Record<string, string>,
  cpuProfDir?: string,
  nodeArgs?: string[],
  bundle?: string,
): Promise<BenchService> {
  const port = await freePort();
  // Default file names (CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile): one per thread.
  const profArgs = cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`] : [];
  const args = [...profArgs, ...(nodeArgs ?? SERVICE_NODE_ARGS), bundle ?? SERVICE_BUNDLE, name];
  const lines: string[] = [];
  const push = (chunk: string) => {
    for (const l of chunk.split("\n")) if (l) lines.push(l);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  const started = performance.now();
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: childEnv({ ...env, PORT: String(port) }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.setEncoding("utf8").on("data", push);
  child.stderr!.setEncoding("utf8").on("data", push);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      resolve();
    }),
  );
  live.add(child);
  void exit.then(() => live.delete(child));
  const baseUrl = `http://127.0.0.1:${port}`;
  let readyMs = NaN;
  for (;;) {
    if (exited) throw new Error(`${name} exited before it was ready:\n${lines.slice(-30).join("\n")}`);
    try {
      const res = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) {
        readyMs = performance.now() - started;
        break;
      }
    } catch {
      /* not listening yet */
    }
    if (performance.now() - started > READY_TIMEOUT_MS) {
      child.kill("SIGKILL");
      throw new Error(`${name} not ready after ${READY_TIMEOUT_MS} ms:\n${lines.slice(-30).join("\n")}`);
    }
    await sleep(READY_POLL_MS);
  }
  const pid = child.pid!;
  let peakAnon = procStatusMiB(pid, "RssAnon");
  const anonSampler = setInterval(() => {
    const anon = procStatusMiB(pid, "RssAnon");
    if (anon > peakAnon) peakAnon = anon;
  }, ANON_SAMPLE_MS);
  anonSampler.unref();
  void exit.then(() => clearInterval(anonSampler));
  return {
    name,
    pid,
    baseUrl,
    readyMs,
    rssAtReadyMiB: procStatusMiB(pid, "VmRSS"),
    fileRssAtReadyMiB: procStatusMiB(pid, "RssFile"),
    peakRssMiB: () => procStatusMiB(pid, "VmHWM"),
    peakAnonMiB: () => peakAnon,
    cpuSeconds: () => procCpuSeconds(pid),
    output: () => lines.join("\n"),
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** `KEY=VALUE` → [KEY, VALUE] (the value may contain `=`); for the benches' env options. */
export function envAssignment(word: string): [string, string] {
  const at = word.indexOf("=");
  return [word.slice(0, at), word.slice(at + 1)];
}

/** Starts nats-server and the four services (one after the other, so ready times do not overlap). */
let built: Promise<void> | undefined;

export async function startBenchSystem(opts: SystemOptions): Promise<BenchSystem> {
  await (built ??= buildBundles());
  const monitorPort = await freePort();
  // BENCH_NATS_PROFILE_PORT opens nats-server's Go profiling port: its goroutine dumps
  // (/debug/pprof/goroutine?debug=2) show what the server is busy with (BENCHMARKS.md, "How to reproduce").
  const profile = process.env.BENCH_NATS_PROFILE_PORT ? ["--profile", process.env.BENCH_NATS_PROFILE_PORT] : [];
  const nats = await startNatsServer({
    args: ["-m", String(monitorPort), ...profile],
    websocket: opts.servicesOver !== undefined,
    configFile: opts.natsConfigFile,
  });
  // The bench's own connection stays on TCP whatever the services use: this process never mixes transports.
  const nc = await connectNats({ servers: [nats.url], name: `bench-${opts.label}`, failFast: true });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const services: BenchService[] = [];
  try {
    const natsUrl = opts.servicesOver === "websocket" ? nats.wsUrl! : nats.url;
    const env = { NATS_URL: natsUrl, LOG_LEVEL: "warn", OTEL_TRACES_EXPORTER: "none", ...opts.env };
    for (const name of SERVICES) services.push(await spawnService(name, env, opts.cpuProfDir, opts.nodeArgs, opts.bundle));
  } catch (err) {
    await Promise.all(services.map((s) => s.stop()));
    await nc.close();
    await nats.stop();
    throw err;
  }
  return {
    label: opts.label,
    nats,
    nc,
    js,
    jsm,
    services,
    orderUrl: services.find((s) => s.name === "order")!.baseUrl,
    natsCpuSeconds: () => procCpuSeconds(nats.pid),
    companionCpuSeconds: () => Object.fromEntries((opts.companions ?? []).map((c) => [c.name, procCpuSeconds(c.pid)])),
    async natsServiceMessages() {
      const varz = (await (await fetch(`http://127.0.0.1:${monitorPort}/varz`)).json()) as { in_msgs: number; out_msgs: number };
      const own = nc.stats();
      return { in: varz.in_msgs - own.outMsgs, out: varz.out_msgs - own.inMsgs };
    },
    async stop() {
      await Promise.all(services.map((s) => s.stop()));
      await nc.close().catch(() => {});
      await nats.stop();
    },
  };
}
