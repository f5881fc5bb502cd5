/**
 * Memory and start-up of the service processes, cheaper and more focused than `npm run bench`
 * (BENCHMARKS.md, "Settings decided by measurement"). Needs `nats-server` like the bench; each run has its own.
 *
 *   node --import tsx bench/memory.ts ready [--rounds N] -- <command…>
 *       spawns each service as `<command…> <name>` against a private nats-server, one at a time:
 *       spawn → first GET /readyz 200 (polled every 10 ms) and VmRSS then, e.g.
 *       `-- node --import tsx scripts/service.ts` or `-- node --enable-source-maps dist/service.mjs`
 *   node --import tsx bench/memory.ts flags [--rounds N] -- '<node flags>' '<node flags>' …
 *       for each set of node flags (interleaved over the rounds): the four services from the bundle
 *       with those flags, 400 orders from 64 closed-loop connections then 10 s at 80 orders/s
 *       (LOAD_AMOUNT, LOAD_CONNECTIONS, LOAD_RATE, LOAD_SECONDS), drained; then each service's peak
 *       RSS (VmHWM) and the services' CPU per order. TRACING=1 exports every span to a sink.
 *       A variant's words may also be `KEY=VALUE` (env for the services) or `+tracing` (export every
 *       span to the sink in this variant only) or `@<path>` (run that bundle instead of dist/service.mjs,
 *       e.g. one built from another commit), to compare settings the same way:
 *       `flags --rounds 3 -- '' '+tracing' 'OTEL_SDK_DISABLED=true'`
 */
import { spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { startNatsServer } from "../test/support/nats-server.ts";
import { childEnv, REPO_ROOT } from "../test/support/processes.ts";
import { freePort } from "../scripts/nats-binary.ts";
// The default system (the four): what the benchmarks have always measured; an opt-in service is not in it.
import { DEFAULT_SERVICES as SERVICES } from "../nats/subjects.ts";
import { httpLoad, waitDrained } from "./load.ts";
import { startOtlpSink } from "./otlp-sink.ts";
import { envAssignment, procStatusMiB, startBenchSystem } from "./system.ts";

const { values, positionals } = parseArgs({ options: { rounds: { type: "string", default: "1" } }, allowPositionals: true });
const [mode, ...rest] = positionals;
const rounds = Number(values.rounds);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ready(command: string[]): Promise<void> {
  const nats = await startNatsServer();
  const rows = new Map<string, string[]>();
  try {
    for (let r = 0; r < rounds; r++) {
      for (const name of SERVICES) {
        const port = await freePort();
        const started = performance.now();
        const child = spawn(command[0]!, [...command.slice(1), name], {
          cwd: REPO_ROOT,
          env: childEnv({ NATS_URL: nats.url, PORT: String(port), LOG_LEVEL: "warn" }),
          stdio: ["ignore", "ignore", "inherit"],
        });
        for (;;) {
          if (child.exitCode !== null) throw new Error(`${name} exited (${child.exitCode})`);
          const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
          await res?.arrayBuffer();
          if (res?.status === 200) break;
          await sleep(10);
        }
        const ms = performance.now() - started;
        const rss = procStatusMiB(child.pid!, "VmRSS");
        rows.set(name, [...(rows.get(name) ?? []), `${Math.round(ms)} ms ${rss.toFixed(1)} MiB`]);
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
    }
  } finally {
    await nats.stop();
  }
  console.log(`ready (spawn → /readyz 200) and VmRSS then: ${command.join(" ")} <name>`);
  for (const [name, cells] of rows) console.log(`  ${name.padEnd(13)}${cells.join("   ")}`);
}

async function flags(variants: string[]): Promise<void> {
  const sink = process.env.TRACING || variants.some((v) => v.split(" ").includes("+tracing")) ? await startOtlpSink() : undefined;
  const tracingEnv = sink ? { OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: "always_on" } : {};
  const lines: string[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const variant of variants) {
      const words = variant.split(" ").filter(Boolean);
      const nodeArgs = words.filter((w) => w.startsWith("-"));
      const env: Record<string, string> = Object.fromEntries(words.filter((w) => /^[A-Z_][A-Z0-9_]*=/.test(w)).map(envAssignment));
      if (process.env.TRACING || words.includes("+tracing")) Object.assign(env, tracingEnv);
      const bundle = words.find((w) => w.startsWith("@"))?.slice(1);
      const sys = await startBenchSystem({ label: "memory", env, ...(nodeArgs.length ? { nodeArgs } : {}), ...(bundle ? { bundle } : {}) });
      try {
        const cpu0 = sys.services.map((s) => s.cpuSeconds());
        const nats0 = sys.natsCpuSeconds();
        const msgs0 = await sys.natsServiceMessages();
        const a = await httpLoad({
          url: sys.orderUrl,
          rate: 0,
          durationS: 0,
          amount: Number(process.env.LOAD_AMOUNT ?? 400),
          connections: Number(process.env.LOAD_CONNECTIONS ?? 64),
        });
        const b = await httpLoad({
          url: sys.orderUrl,
          rate: Number(process.env.LOAD_RATE ?? 80),
          durationS: Number(process.env.LOAD_SECONDS ?? 10),
        });
        await waitDrained(sys.jsm, 60_000);
        const orders = a.ok + b.ok;
        const cpu = sys.services.reduce((sum, s, i) => sum + s.cpuSeconds() - cpu0[i]!, 0);
        const natsCpu = sys.natsCpuSeconds() - nats0;
        const msgs1 = await sys.natsServiceMessages();
        const peaks = sys.services.map((s) => `${s.name} ${s.peakRssMiB().toFixed(0)}`).join(", ");
        const atReady = sys.services.map((s) => s.rssAtReadyMiB.toFixed(0)).join("/");
        const line = `[${variant || "no flags"}] peak MiB: ${peaks} (at ready ${atReady}); ${orders} orders, services ${((1000 * cpu) / orders).toFixed(2)} + nats-server ${((1000 * natsCpu) / orders).toFixed(2)} CPU ms/order; NATS messages per order ${((msgs1.in - msgs0.in) / orders).toFixed(1)} in / ${((msgs1.out - msgs0.out) / orders).toFixed(1)} out`;
        console.log(line);
        lines.push(line);
      } finally {
        await sys.stop();
      }
    }
  }
  await sink?.close();
  console.log(`\n${lines.join("\n")}`);
}

if (mode === "ready" && rest.length > 0) await ready(rest);
else if (mode === "flags" && rest.length > 0) await flags(rest);
else {
  console.error("usage: bench/memory.ts ready [--rounds N] -- <command…> | flags [--rounds N] -- '<node flags>' …");
  process.exit(1);
}
process.exit(0);
