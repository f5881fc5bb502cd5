/**
 * `npm run bench` — the whole system against the raw limit of the same nats-server, in one run.
 *
 *   npm run bench                 full run (≈ 3.5–4.5 min)
 *   npm run bench -- --quick      smoke run (< 1 min): shorter loads, 10k-event replay
 *   npm run bench -- --profile    also write a CPU profile of each service (tracing-off system) and summarise it
 *   npm run bench -- --json FILE  also write every figure as JSON
 *   npm run bench -- --service-env KEY=VALUE   extra env for every service (repeatable; experiments)
 *   npm run bench -- --node-args '<flags>'     the services' node flags instead of SERVICE_NODE_ARGS (experiments)
 *   npm run bench -- --replay-only  only phases 1 and 4 (raw read, rebuild-view) and their ratio, ≈ 40 s
 *   npm run bench -- --logs       also two systems logging at info: to stdout only, and shipped to a real
 *                                 VictoriaLogs too; each saturated (≈ +1.5 min; needs victoria-logs)
 *   npm run bench -- --sync       only the fsync comparison (bench/sync-interval.ts), ≈ 4 min: one system per
 *                                 JetStream sync_interval (default 2m, 1s, 100ms, always), taking turns in rounds;
 *                                 `--sync-settings 1s,always` compares other settings with the default
 *   npm run bench -- --soak [--minutes N] [--rate R]   only the soak (bench/soak.ts, default 20 min), = npm run bench:soak
 *   npm run bench -- --seed-only  only natscli's publish rate and the seed load on a tracing-off system (≈ 45 s): the quick
 *                                 loop for speed work (orders/s, CPU ms per order per process, the ratio to natscli);
 *                                 `--seed-tracing` adds a tracing-on system (`--trace-policy`: sampling by outcome),
 *                                 `--rounds N` N seed loads each, off and on taking turns
 *   npm run bench -- --ws         only the WebSocket comparison, ≈ 2.5 min: two systems, the services on
 *                                 nats-server's TCP port in one, on its WebSocket port (ws://) in the other, taking turns
 *
 * Phases: (1) raw JetStream publish / ordered read with nats.js and with `nats bench` (natscli), (4)
 * replay, on a bare nats-server; then a system with tracing off: (7) start-up, warm-up + capacity
 * estimate, (2) saturating run, (3) latency at 200 and 1,000 orders/s; a system with tracing on (5):
 * its own warm-up and saturating run; on both, the seed load (50 connections, one user). Targets are
 * figures, not assertions — the process exits 0 whatever they are (1 only when the bench itself fails).
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connectNats } from "../nats/connect.ts";
import { startNatsServer } from "../test/support/nats-server.ts";
import { spanCount } from "../test/support/trace-shape.ts";
import { completeEvent } from "../nats/publish-event.ts";
import { NOTIFICATIONS_STREAM, ORDERS_STREAM } from "../nats/subjects.ts";
import { OUTCOME_SAMPLER } from "../otel/outcome-sampling.ts";
import { envAssignment, startBenchSystem, type BenchSystem } from "./system.ts";
import { rawPublish, orderedRead } from "./raw.ts";
import { replayBench, type ReplayResult } from "./replay.ts";
import {
  countShippingReady,
  httpLoad,
  lastNotificationMs,
  percentile,
  phaseStats,
  readPhaseEvents,
  streamMessages,
  SEED_BODY,
  waitDrained,
  type HttpLoadResult,
  type PhaseStats,
} from "./load.ts";
import { startOtlpSink, type OtlpSink } from "./otlp-sink.ts";
import { natsBench, type NatsBenchResult } from "./nats-bench.ts";
import { formatProfile } from "./profile.ts";
import { parseSyncSettings, syncIntervalComparison } from "./sync-interval.ts";
import { findVictoriaLogs, startVictoriaLogs, VICTORIA_LOGS_INSTALL_HINT, type VictoriaLogsProcess } from "../scripts/observability.ts";

const argv = process.argv.slice(2);
const QUICK = argv.includes("--quick");
const PROFILE = argv.includes("--profile");
const JSON_OUT = argv.includes("--json") ? argv[argv.indexOf("--json") + 1] : undefined;
/** `--service-env KEY=VALUE` (repeatable): extra env for every service process, for experiments. */
const SERVICE_ENV: Record<string, string> = Object.fromEntries(
  argv.flatMap((a, i) => (a === "--service-env" && argv[i + 1]?.includes("=") ? [envAssignment(argv[i + 1]!)] : [])),
);
const REPLAY_ONLY = argv.includes("--replay-only");
/** `--node-args '<flags>'`: the services' node flags instead of SERVICE_NODE_ARGS (experiments). */
const NODE_ARGS = argv.includes("--node-args") ? argv[argv.indexOf("--node-args") + 1]!.split(" ").filter(Boolean) : undefined;
/** `--logs`: the logging cost — LOG_LEVEL=info, every line shipped to a real VictoriaLogs. */
const LOGS = argv.includes("--logs");
/** `--ws`: only the services over TCP vs over WebSocket, each warmed up and saturated. */
const WS_ONLY = argv.includes("--ws");
/** `--seed-only`: natscli's js pub async, then the seed load on a tracing-off system, nothing else. */
const SEED_ONLY = argv.includes("--seed-only");
/** `--seed-tracing`: with --seed-only, also the seed load on a tracing-on system (every span sampled). */
const SEED_TRACING = argv.includes("--seed-tracing");
/**
 * `--trace-policy`: with --seed-tracing, the tracing-on system samples by outcome
 * (OTEL_TRACES_SAMPLER=orderstream_outcome; the happy share from `--service-env
 * OTEL_TRACES_SAMPLER_ARG=…`, else the default), and declined orders placed after the load show
 * whether their traces arrive whole.
 */
const TRACE_POLICY = argv.includes("--trace-policy");
/** `--rounds N`: with --seed-only, N seed loads per system, off and on taking turns (default 1). */
const SEED_ROUNDS = argv.includes("--rounds") ? Math.max(1, Number(argv[argv.indexOf("--rounds") + 1]) || 1) : 1;
/** `--sync`: only the fsync settings of JetStream's file store side by side (bench/sync-interval.ts). */
const SYNC_ONLY = argv.includes("--sync");
const SYNC_SETTINGS = argv.includes("--sync-settings") ? argv[argv.indexOf("--sync-settings") + 1] : undefined;

// latLeadInSeconds: the latency runs offer their rate this long before the measured window, so it
// starts with every process paced at that rate rather than catching up after the drain wait.
const CFG = QUICK
  ? {
      rawMessages: 20_000,
      warmupOrders: 400,
      satSeconds: 5,
      seedSeconds: 5,
      latLeadInSeconds: 1,
      lat200Seconds: 3,
      lat1000Seconds: 2,
      replayEvents: 10_000,
      drainCapMs: 5_000,
    }
  : {
      rawMessages: 100_000,
      warmupOrders: 1_000,
      satSeconds: 20,
      seedSeconds: 15,
      latLeadInSeconds: 3,
      lat200Seconds: 10,
      lat1000Seconds: 10,
      replayEvents: 100_000,
      drainCapMs: 40_000,
    };
/** Closed-loop connections of the warm-up: enough that the HTTP side outruns the pipeline. */
const WARMUP_CONNECTIONS = 64;
/** Spans of one happy order's trace: the POST, one publish per event, one process span per consumer of each (no webhook here). */
const HAPPY_ORDER_SPANS = spanCount(["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"]);
/** Tracing on must sustain this share of tracing off's rate, every span sampled and exported. */
const TRACING_SHARE = 0.85;
/** The batch span processor's schedule (5 s) and a bit: what was queued has reached the sink. */
const SPAN_EXPORT_WAIT_MS = 5_500;
/** Seconds of no load after the warm-up, to measure the NATS traffic that does not come from orders. */
const IDLE_SECONDS = 3;
/** Offered load of the saturating runs, relative to the capacity seen in the warm-up. */
const OVERLOAD = 1.5;
/** Saturating runs per system at most: the first, and more while each kept up with its offered rate. */
const MAX_SATURATING_TRIES = 3;
/**
 * Offered load of the next try, relative to the rate the last one kept up with: enough to leave
 * a backlog, not so much that the run measures how a deep backlog degrades (each partition's
 * reactor remembers 256 orders; beyond that an event costs a read of the order's history, and
 * nats-server reads old messages back from its file store) rather than what the system sustains.
 */
const RETRY_OVERLOAD = 1.3;
/** A run saturated the pipeline when a backlog was left at the end of the load: draining took this long… */
const SATURATED_DRAIN_MS = 1_000;
/**
 * …and it completed less than this share of the rate it was offered: a run that delivered nearly
 * all of it (a short drain after a burst) has not shown where its limit is, so it is tried again.
 */
const KEPT_UP_SHARE = 0.95;
/** No second saturating try, and shorter drain waits, past this point of a full run. */
const RUN_BUDGET_S = 285;

const t0 = performance.now();
const elapsedS = () => (performance.now() - t0) / 1000;
const elapsed = () => elapsedS().toFixed(1).padStart(5);
const say = (msg: string) => console.log(`[${elapsed()} s] ${msg}`);
const signed = (n: number) => `${n >= 0 ? "+" : ""}${fmt(n, 1)}`;
const fmt = (n: number, digits = 0) =>
  Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "n/a";

interface RunResult {
  label: string;
  offeredRate: number;
  http: HttpLoadResult;
  drained: boolean;
  drainMs: number;
  /** every order of the run */
  all: PhaseStats;
  /** orders created while every load instance was running (from 1 s, or the lead-in, after the start to the end): latency figures */
  steady: PhaseStats;
  cancelled: number;
  /** completed orders / (last SHIPPING_READY − first POST) */
  throughput: number;
  /** a backlog was left when the load ended (or never drained): the pipeline was busy all along */
  saturated: boolean;
  windowS: number;
  notifications: number;
  notificationsLagMs: number;
  shippingReadyCounted: number | null;
  /** CPU cores used per process over load + drain */
  cores: Record<string, number>;
  /** CPU ms of the services and nats-server per completed order */
  cpuMsPerOrder: number;
  /** CPU ms of nats-server alone per completed order */
  natsCpuMsPerOrder: number;
  /** CPU ms per completed order of each process but the bench */
  cpuMsPerOrderBy: Record<string, number>;
  /** Messages the services sent to / received from nats-server per completed order */
  natsMsgsPerOrder: { in: number; out: number };
}

function cpuSnapshot(sys: BenchSystem): Record<string, number> {
  const snap: Record<string, number> = { "nats-server": sys.natsCpuSeconds(), ...sys.companionCpuSeconds() };
  for (const s of sys.services) snap[s.name] = s.cpuSeconds();
  const self = process.cpuUsage();
  snap.bench = (self.user + self.system) / 1e6;
  return snap;
}

async function measureRun(
  sys: BenchSystem,
  opts: {
    label: string;
    rate: number;
    durationS: number;
    amount?: number;
    connections?: number;
    countSr?: boolean;
    paced?: boolean;
    leadInS?: number;
    /** Longest wait for the drain, instead of the full run's budget-driven one. */
    drainCapMs?: number;
    /** POST body of every request (bench/load.ts SEED_BODY for the seed load). */
    body?: string;
  },
): Promise<RunResult> {
  const fromSeq = (await streamMessages(sys.jsm, ORDERS_STREAM)).lastSeq + 1;
  const notifBefore = (await streamMessages(sys.jsm, NOTIFICATIONS_STREAM)).messages;
  const srBefore = opts.countSr ? await countShippingReady(sys.jsm).catch(() => NaN) : NaN;
  const cpuBefore = cpuSnapshot(sys);
  const msgsBefore = await sys.natsServiceMessages();
  const started = Date.now();
  const http = await httpLoad({
    url: sys.orderUrl,
    rate: opts.rate,
    durationS: opts.durationS,
    amount: opts.amount,
    connections: opts.connections,
    paced: opts.paced,
    body: opts.body,
  });
  const drain = await waitDrained(
    sys.jsm,
    opts.drainCapMs ?? Math.max(5_000, Math.min(CFG.drainCapMs, (RUN_BUDGET_S - elapsedS()) * 1_000)),
  );
  const ended = Date.now();
  const cpuAfter = cpuSnapshot(sys);
  const msgsAfter = await sys.natsServiceMessages();
  const events = await readPhaseEvents(sys.js, sys.jsm, fromSeq);
  const notifications = (await streamMessages(sys.jsm, NOTIFICATIONS_STREAM)).messages - notifBefore;
  const lastNotif = await lastNotificationMs(sys.jsm).catch(() => NaN);
  const srAfter = opts.countSr ? await countShippingReady(sys.jsm).catch(() => NaN) : NaN;
  const all = phaseStats(events.orders);
  const paced = opts.amount === undefined && opts.rate > 0 && opts.paced !== false;
  const steady = paced ? phaseStats(events.orders, started + (opts.leadInS ?? 1) * 1_000, started + opts.durationS * 1_000) : all;
  const windowS = (all.lastCompletedMs - started) / 1000;
  const cores: Record<string, number> = {};
  const cpuMsPerOrderBy: Record<string, number> = {};
  let systemCpu = 0;
  for (const k of Object.keys(cpuAfter)) {
    const used = cpuAfter[k]! - cpuBefore[k]!;
    cores[k] = used / ((ended - started) / 1000);
    if (k !== "bench") {
      systemCpu += used;
      cpuMsPerOrderBy[k] = (used * 1000) / all.completed;
    }
  }
  const result: RunResult = {
    label: opts.label,
    offeredRate: opts.rate,
    http,
    drained: drain.drained,
    drainMs: drain.ms,
    all,
    steady,
    cancelled: events.cancelled,
    throughput: all.completed / windowS,
    // Saturated: orders queued inside (a backlog left when the load ended) or in front (the order
    // service accepted less than it was offered), and fewer completed than were offered.
    saturated:
      (!drain.drained || drain.ms >= SATURATED_DRAIN_MS || steady.createdPerSec < KEPT_UP_SHARE * opts.rate) &&
      all.completed / windowS < KEPT_UP_SHARE * opts.rate,
    windowS,
    notifications,
    notificationsLagMs: lastNotif - all.lastCompletedMs,
    shippingReadyCounted: opts.countSr ? srAfter - srBefore : null,
    cores,
    cpuMsPerOrder: (systemCpu * 1000) / all.completed,
    natsCpuMsPerOrder: ((cpuAfter["nats-server"]! - cpuBefore["nats-server"]!) * 1000) / all.completed,
    cpuMsPerOrderBy,
    natsMsgsPerOrder: { in: (msgsAfter.in - msgsBefore.in) / all.completed, out: (msgsAfter.out - msgsBefore.out) / all.completed },
  };
  say(
    `${opts.label}: ${fmt(http.ok)} POST 201 (${fmt(http.non2xx)} non-2xx, ${fmt(http.errors)} errors) in ${fmt(http.seconds, 1)} s; ` +
      `${fmt(all.completed)}/${fmt(all.created)} orders SHIPPING_READY, ${fmt(notifications)} notifications; ` +
      `${drain.drained ? `drained ${fmt(drain.ms / 1000, 1)} s after the load` : `NOT drained ${fmt(drain.ms / 1000, 1)} s after the load`}; ` +
      `${fmt(result.throughput)} orders/s over ${fmt(windowS, 1)} s (middle 60 % of completions at ${fmt(all.midCompletionPerSec)}/s); ${fmt(result.cpuMsPerOrder, 1)} CPU ms/order; ` +
      `NATS messages per order ${fmt(result.natsMsgsPerOrder.in, 1)} to / ${fmt(result.natsMsgsPerOrder.out, 1)} from the server`,
  );
  return result;
}

function latencyLine(r: RunResult): string {
  const l = r.steady.latencies;
  return `p50 ${fmt(percentile(l, 50), 1)} / p90 ${fmt(percentile(l, 90), 1)} / p99 ${fmt(percentile(l, 99), 1)} ms`;
}

/** The p99 of each hop, from the stream times: where a tail of POST→SHIPPING_READY comes from. */
function hopsLine(r: RunResult): string {
  const { order, payment, shipping } = r.steady.hops;
  return `p99 by hop: order (POST handled → ORDER_CREATED stored) ${fmt(percentile(order, 99), 1)}, payment (→ PAYMENT_COMPLETED stored) ${fmt(percentile(payment, 99), 1)}, shipping (→ SHIPPING_READY stored) ${fmt(percentile(shipping, 99), 1)} ms`;
}

function httpLine(r: RunResult): string {
  return `p50 ${fmt(r.http.latency.p50, 1)} / p90 ${fmt(r.http.latency.p90, 1)} / p99 ${fmt(r.http.latency.p99, 1)} ms`;
}

/** CPU ms per completed order of each process (the bench's own left out). */
function cpuPerOrderLine(r: RunResult): string {
  return Object.entries(r.cpuMsPerOrderBy)
    .map(([k, v]) => `${k} ${fmt(v, 3)}`)
    .join(", ");
}

function coresLine(r: RunResult): string {
  return Object.entries(r.cores)
    .map(([k, v]) => `${k} ${fmt(v, 2)}`)
    .join(", ");
}

function arrivalsLine(r: RunResult): string {
  const a = r.steady.arrivalsPer100ms;
  return `orders created at ${fmt(r.steady.createdPerSec)}/s${r.steady === r.all ? "" : " in the steady window"}, per 100 ms mean ${fmt(a.mean, 1)} / max ${fmt(a.max)}`;
}

/** The comparison's normalisation: orders/s × 6 stored messages (a happy order's 3 events + 3 notifications) ÷ natscli's msgs/s. */
const STORED_PER_ORDER = 6;

/** Above PAYMENT_LIMIT's default (10,000): the payment is declined and the order cancelled. */
const DECLINED_AMOUNT = 20_000;

/**
 * The seed load: 50 closed-loop connections POSTing the seed's body (no items, one user) for
 * CFG.seedSeconds — the shape orderstream was compared with another framework on.
 */
async function seedLoad(sys: BenchSystem, label: string, natsPublishPerSec: number): Promise<RunResult> {
  const run = await measureRun(sys, {
    label: `${label}, seed load (50 connections, ${SEED_BODY}, closed loop, ${CFG.seedSeconds} s)`,
    rate: 0,
    durationS: CFG.seedSeconds,
    connections: 50,
    body: SEED_BODY,
  });
  say(
    `  ratio to natscli js pub async ${fmt((run.throughput * STORED_PER_ORDER) / natsPublishPerSec, 3)}; HTTP POST ${httpLine(run)}; ` +
      `CPU ms per order: ${cpuPerOrderLine(run)}; cores: ${coresLine(run)}`,
  );
  return run;
}

/** The JSON body of a sample ORDER_CREATED: the size natscli's and nats.js's raw runs publish. */
async function sampleEventBody(): Promise<Uint8Array> {
  const sample = await completeEvent({
    eventType: "ORDER_CREATED",
    orderId: crypto.randomUUID(),
    userId: "bench-u0",
    amount: 25.5,
    currency: "USD",
    items: [{ sku: "BENCH-1", quantity: 2, unitPrice: 12.75 }],
  });
  return new TextEncoder().encode(JSON.stringify(sample));
}

/** `--seed-only`: natscli's publish rate on a bare server, then the seed load (tracing off; on too with --seed-tracing). */
async function seedOnly(machine: object): Promise<void> {
  const bare = await startNatsServer();
  let nb: NatsBenchResult;
  try {
    nb = await natsBench(bare.url, CFG.rawMessages, (await sampleEventBody()).byteLength);
  } finally {
    await bare.stop();
  }
  say(`nats bench (${nb.cli}): js pub async ${fmt(nb.publishPerSec)} msgs/s (median of ${nb.publishRuns.map((r) => fmt(r)).join(" / ")})`);
  const results: Record<string, RunResult[]> = { off: [], on: [] };
  const profDir = PROFILE ? mkdtempSync(join(tmpdir(), "orderstream-prof-")) : undefined;
  const onProfDir = PROFILE && SEED_TRACING ? mkdtempSync(join(tmpdir(), "orderstream-prof-on-")) : undefined;
  const sink = SEED_TRACING ? await startOtlpSink() : undefined;
  // Both systems are up for the whole run, so the rounds of each see the same machine: off and on
  // take turns (`--rounds`), and the ratio is taken per round.
  const off = await startBenchSystem({ label: "off", cpuProfDir: profDir, env: SERVICE_ENV, nodeArgs: NODE_ARGS });
  const on = sink
    ? await startBenchSystem({
        label: "on",
        cpuProfDir: onProfDir,
        nodeArgs: NODE_ARGS,
        env: {
          ...SERVICE_ENV,
          OTEL_TRACES_EXPORTER: "otlp",
          OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
          OTEL_TRACES_SAMPLER: TRACE_POLICY ? OUTCOME_SAMPLER : "always_on",
        },
      })
    : undefined;
  const pidsOf = (sys: BenchSystem) => Object.fromEntries(sys.services.map((s) => [s.name, s.pid]));
  try {
    await warmUp(off, "tracing off");
    if (on) await warmUp(on, "tracing on", CFG.warmupOrders);
    const ratios: number[] = [];
    for (let round = 1; round <= SEED_ROUNDS; round++) {
      const label = SEED_ROUNDS > 1 ? ` (round ${round} of ${SEED_ROUNDS})` : "";
      const offRun = await seedLoad(off, `tracing off${label}`, nb.publishPerSec);
      results.off!.push(offRun);
      if (!on || !sink) continue;
      await new Promise((r) => setTimeout(r, SPAN_EXPORT_WAIT_MS));
      const before = sink.stats().spans;
      const onRun = await seedLoad(on, `tracing on${label}`, nb.publishPerSec);
      results.on!.push(onRun);
      await new Promise((r) => setTimeout(r, SPAN_EXPORT_WAIT_MS));
      const spansPerOrder = (sink.stats().spans - before) / onRun.all.completed;
      ratios.push(onRun.throughput / offRun.throughput);
      say(
        `  tracing on ÷ off ${fmt(ratios.at(-1)!, 3)}; spans exported ${fmt(spansPerOrder, 2)} of ${HAPPY_ORDER_SPANS} per order; ` +
          `dropped (counted by the services, since start) ${fmt(await serviceCounter(on, "orderstream_trace_spans_dropped_total"))}`,
      );
    }
    if (ratios.length > 1)
      say(`tracing on ÷ off over ${ratios.length} rounds: ${ratios.map((r) => fmt(r, 3)).join(" / ")}, median ${fmt(median(ratios), 3)}`);
    say(
      `peak RSS (VmHWM), tracing off: ${off.services.map((s) => `${s.name} ${fmt(s.peakRssMiB(), 1)} MiB (at ready ${fmt(s.rssAtReadyMiB, 1)})`).join(", ")}`,
    );
    say(`  of it anonymous (RssAnon, peak sampled every 250 ms; at ready the rest is file pages): ${anonLine(off)}`);
    if (on && sink) {
      say(
        `peak RSS (VmHWM), tracing on: ${on.services.map((s) => `${s.name} ${fmt(s.peakRssMiB(), 1)} MiB`).join(", ")}; anonymous: ${anonLine(on)}`,
      );
      if (TRACE_POLICY) {
        say(
          `  outcome policy: spans sampled out ${fmt(await serviceCounter(on, "orderstream_trace_spans_sampled_out_total"))}, ` +
            `traces kept ${fmt(await serviceCounter(on, "orderstream_traces_kept_total"))} (summed over the services)`,
        );
        await declinedTracesWhole(on, sink);
      }
    }
  } finally {
    await off.stop();
    await on?.stop();
    await sink?.close();
  }
  if (profDir) printProfiles(profDir, pidsOf(off));
  if (on && onProfDir) printProfiles(onProfDir, pidsOf(on), "tracing on");
  if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ machine, natsBench: nb, seed: results }, null, 2));
}

/** The middle value (the lower of the two middle ones for an even count). */
function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
}

/** Each service's peak anonymous RSS, and its file-mapped RSS at ready. */
function anonLine(sys: BenchSystem): string {
  return sys.services
    .map((s) => `${s.name} ${fmt(s.peakAnonMiB(), 1)} MiB (file pages at ready ${fmt(s.fileRssAtReadyMiB, 1)})`)
    .join(", ");
}

/** Declined orders (the compensating path) placed one by one after the load: does each trace arrive whole? */
async function declinedTracesWhole(sys: BenchSystem, sink: OtlpSink, orders = 20): Promise<void> {
  const expected = spanCount(["ORDER_CREATED", "PAYMENT_FAILED", "ORDER_CANCELLED"]);
  const traceIds: string[] = [];
  for (let i = 0; i < orders; i++) {
    const res = await fetch(`${sys.orderUrl}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ userId: "bench-declined", amount: DECLINED_AMOUNT }),
    });
    const { traceId } = (await res.json()) as { traceId: string };
    traceIds.push(traceId);
    sink.watchTraces([traceId]);
  }
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && traceIds.some((id) => sink.spansOf(id) < expected)) await new Promise((r) => setTimeout(r, 200));
  const whole = traceIds.filter((id) => sink.spansOf(id) === expected).length;
  say(
    `  declined orders after the load: ${whole} of ${orders} traces whole (${expected} spans each); spans received per trace: ` +
      `${[...new Set(traceIds.map((id) => sink.spansOf(id)))].join(", ")}`,
  );
}

/** Prints (and returns) the main thread's CPU profile summary (self time) of each service. */
function printProfiles(profDir: string, pids: Record<string, number>, label = "tracing off"): string[] {
  const profiles: string[] = [];
  const files = readdirSync(profDir).filter((f) => f.endsWith(".cpuprofile"));
  for (const [name, pid] of Object.entries(pids)) {
    const main = files.find((f) => f.includes(`.${pid}.0.`));
    if (main) profiles.push(`${name} service — ${formatProfile(join(profDir, main), 15)}`);
  }
  console.log(`\nCPU profiles (self time, main thread, ${label}; files in ${profDir}):\n${profiles.join("\n\n")}\n`);
  return profiles;
}

/**
 * Warm-up that also estimates capacity: two batches of orders, closed loop, each drained; the
 * second batch (JIT warm) gives the estimate.
 */
async function warmUp(sys: BenchSystem, label: string, orders = CFG.warmupOrders): Promise<RunResult> {
  const half = Math.ceil(orders / 2);
  const batch = (n: number) =>
    measureRun(sys, {
      label: `${label} warm-up ${n} (${fmt(half)} orders, ${WARMUP_CONNECTIONS} connections)`,
      rate: 0,
      durationS: 0,
      amount: half,
      connections: WARMUP_CONNECTIONS,
    });
  await batch(1);
  return batch(2);
}

/** Offered rate for a saturating run: OVERLOAD × the warm-up's completion rate (middle 60 % of completions). */
function capacityGuess(warm: RunResult): number {
  const seen = Number.isFinite(warm.all.midCompletionPerSec) ? Math.max(warm.all.midCompletionPerSec, warm.throughput) : warm.throughput;
  return Math.max(50, Math.ceil(seen * OVERLOAD));
}

/**
 * A saturating run: `rate` offered in one autocannon instance for CFG.satSeconds. When the system
 * kept up (no backlog at the end), the figure is not a capacity: the full run tries again at
 * RETRY_OVERLOAD × the rate it kept up with, up to MAX_SATURATING_TRIES runs in all while time is
 * left. The highest throughput is the figure: the target is a rate sustained for the run, and
 * a run that kept up sustained its rate, while an overload can come out lower (BENCHMARKS.md,
 * "Settings decided by measurement"); it is then marked not saturated.
 */
/** The services' NATS traffic with no orders flowing: what per-order counts include besides the orders. */
async function idleNatsMessages(sys: BenchSystem, seconds = IDLE_SECONDS): Promise<{ in: number; out: number }> {
  const before = await sys.natsServiceMessages();
  const t = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1_000));
  const after = await sys.natsServiceMessages();
  const s = (performance.now() - t) / 1_000;
  return { in: (after.in - before.in) / s, out: (after.out - before.out) / s };
}

/** Sum of one counter over the services' /metrics. */
async function serviceCounter(sys: BenchSystem, name: string): Promise<number> {
  let sum = 0;
  for (const s of sys.services) {
    const text = await (await fetch(`${s.baseUrl}/metrics`)).text();
    for (const line of text.split("\n")) if (line.startsWith(name)) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

async function saturate(sys: BenchSystem, label: string, rate: number, countSr = false): Promise<RunResult> {
  const run = (r: number, note = "") =>
    measureRun(sys, {
      label: `${label}, saturating${note} (${fmt(r)} orders/s offered, ${CFG.satSeconds} s)`,
      rate: r,
      durationS: CFG.satSeconds,
      paced: false,
      countSr,
    });
  let best = await run(rate);
  let last = best;
  for (let tries = 1; !last.saturated && !QUICK && tries < MAX_SATURATING_TRIES; tries++) {
    if (elapsedS() + CFG.satSeconds + 20 > RUN_BUDGET_S) {
      say(`  the system kept up with ${fmt(last.offeredRate)}/s; no time left for another try (the figure is not a capacity)`);
      break;
    }
    const again = Math.ceil(RETRY_OVERLOAD * Math.max(last.offeredRate, last.throughput));
    say(`  no backlog was left: the system kept up with ${fmt(last.offeredRate)}/s; once more at ${fmt(again)}/s`);
    last = await run(again, " again");
    if (last.throughput >= best.throughput) best = last;
    else
      say(
        `  the overloaded try came out lower (${fmt(last.throughput)} orders/s): the figure is the ${fmt(best.throughput)} orders/s sustained at ${fmt(best.offeredRate)}/s`,
      );
  }
  return best;
}

/**
 * `--ws`: two systems side by side, tracing off, each nats-server with both listeners: one with the
 * services on its TCP port, one with them on its WebSocket port. After a warm-up each, they take
 * turns (ABAB, the first swapped each round) at the same offered rate, so a change in the machine's
 * background load falls on both; the figure is the median per-round ratio and the CPU per order.
 */
async function webSocketComparison(machine: Record<string, unknown>): Promise<void> {
  const rounds = QUICK ? 1 : 4;
  const turnS = QUICK ? 5 : 10;
  const systems: Record<"tcp" | "websocket", BenchSystem> = {} as Record<"tcp" | "websocket", BenchSystem>;
  const runs: Record<"tcp" | "websocket", RunResult[]> = { tcp: [], websocket: [] };
  try {
    for (const over of ["tcp", "websocket"] as const) {
      say(
        `starting nats-server (client and WebSocket listeners) + 4 services connected over ${over === "tcp" ? "TCP (nats://)" : "WebSocket (ws://)"}`,
      );
      systems[over] = await startBenchSystem({ label: over, env: SERVICE_ENV, servicesOver: over });
      say(`ready (spawn → /readyz 200): ${systems[over].services.map((s) => `${s.name} ${fmt(s.readyMs)} ms`).join(", ")}`);
    }
    const warm = { tcp: await warmUp(systems.tcp, "tcp"), websocket: await warmUp(systems.websocket, "websocket") };
    const rate = Math.max(capacityGuess(warm.tcp), capacityGuess(warm.websocket));
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? (["tcp", "websocket"] as const) : (["websocket", "tcp"] as const);
      for (const over of order) {
        runs[over].push(
          await measureRun(systems[over], {
            label: `round ${round}/${rounds}, ${over} (${fmt(rate)} orders/s offered, ${turnS} s)`,
            rate,
            durationS: turnS,
            paced: false,
          }),
        );
      }
    }
  } finally {
    await Promise.all(Object.values(systems).map((sys) => sys.stop()));
  }
  const ratios = runs.websocket.map((ws, i) => ws.throughput / runs.tcp[i]!.throughput);
  const cpuMs = (rs: RunResult[]) => median(rs.map((r) => r.cpuMsPerOrder));
  console.log(
    `\nResults (--ws${QUICK ? " --quick" : ""}, ${fmt((performance.now() - t0) / 1000, 0)} s, ${rounds} rounds of ${turnS} s per transport):`,
  );
  console.log(`| services connected over | orders/s per round | CPU ms/order (median) | nats-server cores (median) |`);
  console.log(`| --- | --- | --- | --- |`);
  for (const over of ["tcp", "websocket"] as const) {
    const rs = runs[over];
    console.log(
      `| ${over === "tcp" ? "TCP (nats://)" : "WebSocket (ws://)"} | ${rs.map((r) => `${fmt(r.throughput)}${r.saturated ? "" : "*"}`).join(", ")} | ${fmt(cpuMs(rs), 2)} | ${fmt(median(rs.map((r) => r.cores["nats-server"] ?? NaN)), 2)} |`,
    );
  }
  console.log(
    `\nWebSocket / TCP orders/s: median ${fmt(median(ratios), 3)} (per round ${ratios.map((r) => fmt(r, 3)).join(", ")}); ` +
      `CPU per order ${signed((cpuMs(runs.websocket) / cpuMs(runs.tcp) - 1) * 100)} %` +
      (Object.values(runs)
        .flat()
        .some((r) => !r.saturated)
        ? " (* not saturated: that run kept up with the offered rate)"
        : ""),
  );
  if (JSON_OUT)
    writeFileSync(
      JSON_OUT,
      JSON.stringify({ machine, quick: QUICK, webSocket: { runs, ratios } }, (k, v) => (k === "latencies" ? undefined : v), 2),
    );
}

async function main(): Promise<void> {
  const machine = {
    cores: (await import("node:os")).cpus().length,
    memGiB: (await import("node:os")).totalmem() / 2 ** 30,
    cpu: (await import("node:os")).cpus()[0]?.model ?? "?",
    node: process.version,
  };
  say(
    `orderstream bench${QUICK ? " --quick" : ""}: ${machine.cores} cores (${machine.cpu}), ${fmt(machine.memGiB, 1)} GiB, node ${machine.node}`,
  );
  if (WS_ONLY) return webSocketComparison(machine);
  if (SEED_ONLY) return seedOnly(machine);
  if (SYNC_ONLY) {
    const deps = {
      quick: QUICK,
      measureRun,
      warmUp: (sys: BenchSystem, label: string) => warmUp(sys, label),
      capacityGuess,
      say,
      fmt,
      jsonOut: JSON_OUT,
      machine,
      startedMs: t0,
    };
    return syncIntervalComparison(deps, parseSyncSettings(SYNC_SETTINGS));
  }

  // ---- 1 + 4: the limit, and replay, on a bare server ---------------------------------------
  const bare = await startNatsServer();
  let raw: { bodyBytes: number; publishPerSec: number; readPerSec: number; messages: number };
  let nb: NatsBenchResult;
  let replay: ReplayResult;
  {
    const nc = await connectNats({ servers: [bare.url], name: "bench-raw", failFast: true });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    try {
      const body = await sampleEventBody();
      const publishPerSec = await rawPublish(js, jsm, "BENCH", body, CFG.rawMessages, 1_000);
      const read = await orderedRead(js, jsm, "BENCH");
      raw = { bodyBytes: body.byteLength, publishPerSec, readPerSec: read.perSec, messages: read.messages };
      say(
        `raw: async publish ${fmt(publishPerSec)} msgs/s (${body.byteLength}-byte body, 1,000 in flight, ${fmt(CFG.rawMessages)} msgs); ordered read ${fmt(read.perSec)} msgs/s`,
      );
      nb = await natsBench(bare.url, CFG.rawMessages, body.byteLength);
      say(
        `nats bench (${nb.cli}): js pub async ${fmt(nb.publishPerSec)} msgs/s (median of ${nb.publishRuns.map((r) => fmt(r)).join(" / ")}), js ordered ${fmt(nb.orderedReadPerSec)} msgs/s — ${nb.commands.join("; ")}`,
      );
      replay = await replayBench(js, jsm, CFG.replayEvents);
      say(
        `replay: ${fmt(replay.events)} events / ${fmt(replay.orders)} orders (filled at ${fmt(replay.fillPerSec)} events/s); ` +
          `rebuild-view ${fmt(replay.rebuildPerSec)} events/s (${fmt(replay.rebuildSeconds, 2)} s); ` +
          `bare ordered read of the same stream ${fmt(replay.rawReadPerSec)} msgs/s`,
      );
    } finally {
      await nc.close();
      await bare.stop();
    }
  }

  if (REPLAY_ONLY) {
    say(
      `replay ratio to the raw ordered read of the same stream ${fmt(replay.rebuildPerSec / replay.rawReadPerSec, 3)} (target ≥ 0.50; ` +
        `to the BENCH stream's read: ${fmt(replay.rebuildPerSec / raw.readPerSec, 3)})`,
    );
    if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ machine, quick: QUICK, raw, natsBench: nb, replay }, null, 2));
    return;
  }

  // ---- 7, 2, 3: tracing off --------------------------------------------------------------------
  const profDir = PROFILE ? mkdtempSync(join(tmpdir(), "orderstream-prof-")) : undefined;
  say(`starting nats-server + 4 services (tracing off)${profDir ? `, CPU profiles into ${profDir}` : ""}`);
  const off = await startBenchSystem({ label: "off", cpuProfDir: profDir, env: SERVICE_ENV, nodeArgs: NODE_ARGS });
  let offWarm: RunResult, sat: RunResult, seedOff: RunResult, lat200: RunResult, lat1000: RunResult, idleMsgs: { in: number; out: number };
  const ready: Record<string, number> = {};
  const rss: Record<string, number> = {};
  const rssAtReady: Record<string, number> = {};
  /** Peak RssAnon (what the process allocates; VmHWM adds the file pages of node and its libraries). */
  const anon: Record<string, number> = {};
  const anonOn: Record<string, number> = {};
  const pids: Record<string, number> = {};
  try {
    for (const s of off.services) ready[s.name] = s.readyMs;
    say(`ready (spawn → /readyz 200): ${off.services.map((s) => `${s.name} ${fmt(s.readyMs)} ms`).join(", ")}`);
    for (const s of off.services) rssAtReady[s.name] = s.rssAtReadyMiB;
    for (const s of off.services) pids[s.name] = s.pid;
    offWarm = await warmUp(off, "tracing off");
    idleMsgs = await idleNatsMessages(off);
    say(
      `idle: ${fmt(idleMsgs.in, 1)} messages/s to nats-server, ${fmt(idleMsgs.out, 1)} from it (KV heartbeats and watches, pull requests and their heartbeats)`,
    );
    sat = await saturate(off, "tracing off", capacityGuess(offWarm), true);
    say(`  ${arrivalsLine(sat)}; CPU cores used: ${coresLine(sat)}; CPU ms per order: ${cpuPerOrderLine(sat)}`);
    seedOff = await seedLoad(off, "tracing off", nb.publishPerSec);
    const leadInS = CFG.latLeadInSeconds;
    lat200 = await measureRun(off, {
      label: `latency at 200 orders/s (${leadInS} s lead-in + ${CFG.lat200Seconds} s)`,
      rate: 200,
      durationS: leadInS + CFG.lat200Seconds,
      leadInS,
    });
    say(`  POST→SHIPPING_READY ${latencyLine(lat200)}; HTTP POST ${httpLine(lat200)}; ${arrivalsLine(lat200)}`);
    say(`  ${hopsLine(lat200)}`);
    lat1000 = await measureRun(off, {
      label: `latency at 1,000 orders/s (${leadInS} s lead-in + ${CFG.lat1000Seconds} s)`,
      rate: 1_000,
      durationS: leadInS + CFG.lat1000Seconds,
      leadInS,
    });
    say(`  POST→SHIPPING_READY ${latencyLine(lat1000)}; HTTP POST ${httpLine(lat1000)}; ${arrivalsLine(lat1000)}`);
    say(`  ${hopsLine(lat1000)}`);
    for (const s of off.services) rss[s.name] = s.peakRssMiB();
    for (const s of off.services) anon[s.name] = s.peakAnonMiB();
    say(
      `peak RSS (VmHWM): ${off.services.map((s) => `${s.name} ${fmt(rss[s.name]!, 1)} MiB (at ready ${fmt(rssAtReady[s.name]!, 1)})`).join(", ")}`,
    );
    say(`  of it anonymous (RssAnon, peak sampled every 250 ms; at ready the rest is file pages): ${anonLine(off)}`);
  } finally {
    await off.stop();
  }
  const profiles = profDir ? printProfiles(profDir, pids) : [];

  // ---- 5: tracing on, offered at least what tracing off sustained ------------------------------
  // Its own warm-up estimate alone under-offered it run after run (it kept up, so the figure was a
  // lower bound). The rate tracing off sustained, not the rate it was offered: a deeper overload
  // costs per order (the state cache is outrun: "Overload"), and the figure would mix the two.
  const sink: OtlpSink = await startOtlpSink();
  say(`starting nats-server + 4 services (tracing on: OTLP/HTTP JSON to ${sink.url}, always_on sampler)`);
  const on = await startBenchSystem({
    label: "on",
    env: { ...SERVICE_ENV, OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_TRACES_SAMPLER: "always_on" },
  });
  let satOn: RunResult, onWarm: RunResult;
  let seedOn: { run: RunResult; spansPerOrder: number } | undefined;
  const tracingTargetRate = Math.round(TRACING_SHARE * sat.throughput);
  let ordersOn = NaN;
  let atTargetOn: { run: RunResult; spansPerOrder: number } | undefined;
  let spansDroppedCounted = NaN;
  const rssOn: Record<string, number> = {};
  try {
    onWarm = await warmUp(on, "tracing on", QUICK ? 250 : CFG.warmupOrders);
    if (!QUICK) {
      // The target rate, every span sampled: does the system keep up, and does every span reach the
      // sink? (At saturation the SDK drops spans rather than slow the services, so the saturated
      // figure alone says nothing about complete traces.)
      const leadInS = CFG.latLeadInSeconds;
      await new Promise((r) => setTimeout(r, SPAN_EXPORT_WAIT_MS));
      const spansBefore = sink.stats().spans;
      const ordersBefore = (await streamMessages(on.jsm, ORDERS_STREAM)).messages / 3;
      const run = await measureRun(on, {
        label: `tracing on at ${fmt(tracingTargetRate)} orders/s (${leadInS} s lead-in + ${CFG.lat1000Seconds} s)`,
        rate: tracingTargetRate,
        durationS: leadInS + CFG.lat1000Seconds,
        leadInS,
      });
      await new Promise((r) => setTimeout(r, SPAN_EXPORT_WAIT_MS));
      const orders = (await streamMessages(on.jsm, ORDERS_STREAM)).messages / 3 - ordersBefore;
      atTargetOn = { run, spansPerOrder: (sink.stats().spans - spansBefore) / orders };
      say(
        `  POST→SHIPPING_READY ${latencyLine(run)}; spans exported ${fmt(atTargetOn.spansPerOrder, 2)} of ${HAPPY_ORDER_SPANS} per order; ${arrivalsLine(run)}`,
      );
    }
    satOn = await saturate(on, "tracing on", Math.max(capacityGuess(onWarm), Math.round(sat.throughput)));
    say(`  ${arrivalsLine(satOn)}; CPU cores used: ${coresLine(satOn)}`);
    {
      await new Promise((r) => setTimeout(r, SPAN_EXPORT_WAIT_MS));
      const spansBefore = sink.stats().spans;
      const run = await seedLoad(on, "tracing on", nb.publishPerSec);
      await new Promise((r) => setTimeout(r, SPAN_EXPORT_WAIT_MS));
      seedOn = { run, spansPerOrder: (sink.stats().spans - spansBefore) / run.all.completed };
      say(
        `  tracing on ÷ off (seed load) ${fmt(run.throughput / seedOff.throughput, 3)}; spans exported ${fmt(seedOn.spansPerOrder, 2)} of ${HAPPY_ORDER_SPANS} per order`,
      );
    }
    for (const s of on.services) rssOn[s.name] = s.peakRssMiB();
    for (const s of on.services) anonOn[s.name] = s.peakAnonMiB();
    ordersOn = (await streamMessages(on.jsm, ORDERS_STREAM)).messages / 3; // happy path: 3 events per order
    spansDroppedCounted = await serviceCounter(on, "orderstream_trace_spans_dropped_total");
  } finally {
    await on.stop();
  }
  await new Promise((r) => setTimeout(r, 300));
  const spans = sink.stats();
  await sink.close();
  const spansPerOrder = spans.spans / ordersOn;
  const spansExpected = ordersOn * HAPPY_ORDER_SPANS;
  const spansDropped = Math.max(0, 1 - spans.spans / spansExpected);
  say(
    `OTLP sink: ${fmt(spans.requests)} requests, ${fmt(spans.bytes / 2 ** 20, 1)} MiB, ${fmt(spans.spans)} spans (${fmt(spansPerOrder, 1)} per order ` +
      `of the ${HAPPY_ORDER_SPANS} a happy order makes: ${fmt(spansDropped * 100, 1)} % dropped by the SDK's batch span processor, its queue full; ` +
      `the services counted ${fmt(spansDroppedCounted)} in orderstream_trace_spans_dropped_total)`,
  );

  // ---- 17: logs at info — to stdout only, then also shipped to a real VictoriaLogs ------------------
  // The baseline of the rest of the bench logs at warn: a happy order writes no line. At info every
  // service writes one line per event it handles and the order service one per POST (7 per happy
  // order). Two more systems, each offered at least what tracing off sustained: info to stdout only
  // (what logging at info costs by itself), and info to stdout and shipped to VictoriaLogs on this
  // machine, whose CPU counts as the system's (what shipping costs on top: at most 5 %).
  let satInfo: RunResult | undefined;
  let satLogs: RunResult | undefined;
  let logLines: { shipped: number; dropped: number; perOrder: number } | undefined;
  if (LOGS) {
    const binary = findVictoriaLogs();
    if (!binary) throw new Error(`--logs: ${VICTORIA_LOGS_INSTALL_HINT}`);
    say("starting nats-server + 4 services (tracing off, LOG_LEVEL=info, logs to stdout only)");
    const info = await startBenchSystem({ label: "info", env: { ...SERVICE_ENV, LOG_LEVEL: "info" } });
    try {
      const warm = await warmUp(info, "info logs", QUICK ? 250 : CFG.warmupOrders);
      satInfo = await saturate(info, "info logs", Math.max(capacityGuess(warm), Math.round(sat.throughput)));
      say(`  ${arrivalsLine(satInfo)}; CPU cores used: ${coresLine(satInfo)}`);
    } finally {
      await info.stop();
    }
    const dataDir = mkdtempSync(join(tmpdir(), "orderstream-bench-vlogs-"));
    let vlogs: VictoriaLogsProcess | undefined;
    try {
      vlogs = await startVictoriaLogs({ binary, dataDir });
      say(`starting nats-server + 4 services (tracing off, LOG_LEVEL=info, logs to stdout and shipped to VictoriaLogs ${vlogs.url})`);
      const logsOn = await startBenchSystem({
        label: "logs",
        env: { ...SERVICE_ENV, LOG_LEVEL: "info", VICTORIA_LOGS_URL: vlogs.url },
        companions: [{ name: "victoria-logs", pid: vlogs.pid }],
      });
      try {
        const warm = await warmUp(logsOn, "logs shipped", QUICK ? 250 : CFG.warmupOrders);
        satLogs = await saturate(
          logsOn,
          "logs shipped",
          Math.max(capacityGuess(warm), Math.round(sat.throughput), Math.round(satInfo.throughput)),
        );
        say(`  ${arrivalsLine(satLogs)}; CPU cores used: ${coresLine(satLogs)}`);
        const orders = (await streamMessages(logsOn.jsm, ORDERS_STREAM)).messages / 3;
        // The shippers' own counters: what VictoriaLogs accepted, what was dropped.
        await new Promise((r) => setTimeout(r, 1_500)); // one flush interval and a bit
        const shipped = await serviceCounter(logsOn, "orderstream_log_lines_shipped_total");
        const dropped = await serviceCounter(logsOn, "orderstream_log_lines_dropped_total");
        logLines = { shipped, dropped, perOrder: shipped / orders };
        say(
          `log shipping: ${fmt(shipped)} lines accepted by VictoriaLogs (${fmt(logLines.perOrder, 1)} per order), ${fmt(dropped)} dropped`,
        );
      } finally {
        await logsOn.stop();
      }
    } finally {
      await vlogs?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }

  // ---- table ------------------------------------------------------------------------------------
  /** Messages an order stores: its three events and their three notifications. */
  const nbRatio = (sat.throughput * STORED_PER_ORDER) / nb.publishPerSec;
  const seedRatio = (seedOff.throughput * STORED_PER_ORDER) / nb.publishPerSec;
  const replayRatio = replay.rebuildPerSec / replay.rawReadPerSec;
  const p99 = (r: RunResult) => percentile(r.steady.latencies, 99);
  const maxRss = Math.max(...Object.values(rss));
  const maxReady = Math.max(...Object.values(ready));
  const notSaturated = (r: RunResult) => (r.saturated ? "" : " (NOT saturated: the system kept up, capacity is higher)");
  const mark = (ok: boolean) => (ok ? "met" : "MISSED");
  const overloaded = (r: RunResult) =>
    (r.offeredRate > sat.throughput ? " [offered > capacity: queueing]" : "") +
    (r.steady.completed < r.steady.created
      ? ` [${fmt(r.steady.created - r.steady.completed)} of ${fmt(r.steady.created)} not done when the drain wait ended: true p99 is higher]`
      : "") +
    (r.steady.createdPerSec < 0.9 * r.offeredRate ? ` [only ${fmt(r.steady.createdPerSec)}/s accepted]` : "");
  const msgs = sat.natsMsgsPerOrder;
  const rows: [string, string, string, string][] = [
    ["1 raw JetStream async publish (nats.js)", "reference", `${fmt(raw.publishPerSec)} msgs/s (${raw.bodyBytes} B, 1,000 in flight)`, ""],
    ["1 raw ordered-consumer read (nats.js)", "reference", `${fmt(raw.readPerSec)} msgs/s`, ""],
    [
      "1 nats bench js pub async / js ordered",
      "reference",
      `${fmt(nb.publishPerSec)} / ${fmt(nb.orderedReadPerSec)} msgs/s (natscli, same server, ${raw.bodyBytes} B)`,
      "",
    ],
    [
      "2 end-to-end POST→SHIPPING_READY, tracing off",
      "reported",
      `${fmt(sat.throughput)} orders/s${sat.drained ? "" : " (not drained)"}${notSaturated(sat)}`,
      "",
    ],
    [
      "2 ratio to nats bench js pub async",
      "≥ 0.095",
      `${fmt(nbRatio, 3)} (${fmt(sat.throughput)} orders/s × ${STORED_PER_ORDER} stored messages ÷ ${fmt(nb.publishPerSec)} msgs/s)`,
      mark(nbRatio >= 0.095),
    ],
    [
      "2 CPU per order (services + nats-server)",
      "≤ 0.8 ms",
      `${fmt(sat.cpuMsPerOrder, 2)} ms (${cpuPerOrderLine(sat)}): CPU-bound ceiling on ${machine.cores} cores ≈ ${fmt((machine.cores * 1000) / sat.cpuMsPerOrder)} orders/s`,
      mark(sat.cpuMsPerOrder <= 0.8),
    ],
    [
      "2 seed load (50 connections, one user, no items), tracing off",
      "ratio ≥ 0.095",
      `${fmt(seedOff.throughput)} orders/s, ratio ${fmt(seedRatio, 3)}; ${fmt(seedOff.cpuMsPerOrder, 2)} CPU ms/order (${cpuPerOrderLine(seedOff)})`,
      mark(seedRatio >= 0.095),
    ],
    [
      "2 NATS messages per order, each way",
      "floor 12 from the server",
      `${fmt(msgs.in, 2)} from the services to nats-server, ${fmt(msgs.out, 2)} back (its /varz; idle traffic ` +
        `${fmt(idleMsgs.in, 1)} / ${fmt(idleMsgs.out, 1)} per s ≈ ${fmt(idleMsgs.in / sat.throughput, 3)} / ${fmt(idleMsgs.out / sat.throughput, 3)} per order at this rate)`,
      "",
    ],
    [
      "3 p99 POST→SHIPPING_READY @ 200/s",
      "≤ 10 ms",
      `${fmt(p99(lat200), 1)} ms (${latencyLine(lat200)})${overloaded(lat200)}`,
      mark(p99(lat200) <= 10),
    ],
    [
      "3 p99 POST→SHIPPING_READY @ 1,000/s",
      "≤ 30 ms",
      `${fmt(p99(lat1000), 1)} ms (${latencyLine(lat1000)})${overloaded(lat1000)}`,
      mark(p99(lat1000) <= 30),
    ],
    ["3 HTTP POST /orders @ 200/s", "—", httpLine(lat200), ""],
    ["3 HTTP POST /orders @ 1,000/s", "—", httpLine(lat1000), ""],
    ["4 replay (rebuild-view from sequence 1)", "—", `${fmt(replay.rebuildPerSec)} events/s over ${fmt(replay.events)} events`, ""],
    [
      "4 replay ratio to the raw ordered read of the same stream",
      "≥ 0.50",
      `${fmt(replayRatio, 3)} (${fmt(replay.rawReadPerSec)} msgs/s read bare)`,
      mark(replayRatio >= 0.5),
    ],
    [
      "5 end-to-end POST→SHIPPING_READY, tracing on",
      `≥ ${TRACING_SHARE} × tracing off`,
      `${fmt(satOn.throughput)} orders/s${notSaturated(satOn)}: ${fmt(satOn.throughput / sat.throughput, 3)} of tracing off`,
      mark(satOn.throughput >= TRACING_SHARE * sat.throughput),
    ],
    ...(seedOn
      ? ([
          [
            "5 seed load, tracing on",
            `≥ ${TRACING_SHARE} × off, all spans`,
            `${fmt(seedOn.run.throughput)} orders/s: ${fmt(seedOn.run.throughput / seedOff.throughput, 3)} of tracing off; ${fmt(seedOn.spansPerOrder, 2)} of ${HAPPY_ORDER_SPANS} spans per order exported`,
            mark(seedOn.run.throughput >= TRACING_SHARE * seedOff.throughput && seedOn.spansPerOrder >= 0.999 * HAPPY_ORDER_SPANS),
          ],
        ] as [string, string, string, string][])
      : []),
    ...(atTargetOn
      ? ([
          [
            `5 tracing on at ${fmt(tracingTargetRate)} orders/s offered, every span exported`,
            "kept up, all spans",
            `accepted ${fmt(atTargetOn.run.steady.createdPerSec)}/s, ${atTargetOn.run.drained ? `drained ${fmt(atTargetOn.run.drainMs / 1000, 1)} s after` : "NOT drained"}; ` +
              `${fmt(atTargetOn.spansPerOrder, 2)} of ${HAPPY_ORDER_SPANS} spans per order; p99 ${fmt(p99(atTargetOn.run), 1)} ms`,
            mark(
              atTargetOn.run.drained &&
                atTargetOn.run.drainMs < SATURATED_DRAIN_MS &&
                atTargetOn.run.steady.createdPerSec >= KEPT_UP_SHARE * tracingTargetRate &&
                atTargetOn.spansPerOrder >= 0.999 * HAPPY_ORDER_SPANS,
            ),
          ],
        ] as [string, string, string, string][])
      : []),
    [
      "5 spans exported (tracing on, all phases)",
      "all",
      `${fmt(spansPerOrder, 2)} of ${HAPPY_ORDER_SPANS} per order: ${fmt(spansDropped * 100, 1)} % dropped (queue of ${SERVICE_ENV.OTEL_BSP_MAX_QUEUE_SIZE ?? "2048"} spans per service)`,
      mark(spansDropped < 0.001),
    ],
    [
      "5 tracing on vs off, CPU per order",
      "—",
      `${fmt(satOn.cpuMsPerOrder, 2)} vs ${fmt(sat.cpuMsPerOrder, 2)} ms: ${signed((satOn.cpuMsPerOrder / sat.cpuMsPerOrder - 1) * 100)}%`,
      "",
    ],
    ...(satLogs && satInfo
      ? ([
          [
            "17 logging at info (stdout) vs warn",
            "reported",
            `${fmt(satInfo.throughput)} vs ${fmt(sat.throughput)} orders/s: ${fmt((1 - satInfo.throughput / sat.throughput) * 100, 1)} % below${notSaturated(satInfo)}; CPU per order ${fmt(satInfo.cpuMsPerOrder, 2)} vs ${fmt(sat.cpuMsPerOrder, 2)} ms (${signed((satInfo.cpuMsPerOrder / sat.cpuMsPerOrder - 1) * 100)}%)`,
            "",
          ],
          [
            "17 shipping info logs to VictoriaLogs vs info on stdout only",
            "≤ 5 %",
            `${fmt(satLogs.throughput)} vs ${fmt(satInfo.throughput)} orders/s: ${fmt((1 - satLogs.throughput / satInfo.throughput) * 100, 1)} % below${notSaturated(satLogs)}`,
            mark(satLogs.throughput >= 0.95 * satInfo.throughput),
          ],
          [
            "17 shipping, CPU per order (VictoriaLogs included)",
            "—",
            `${fmt(satLogs.cpuMsPerOrder, 2)} vs ${fmt(satInfo.cpuMsPerOrder, 2)} ms: ${signed((satLogs.cpuMsPerOrder / satInfo.cpuMsPerOrder - 1) * 100)}% (victoria-logs ${fmt(satLogs.cores["victoria-logs"] ?? NaN, 2)} cores)`,
            "",
          ],
          [
            "17 info logs shipped vs warn (both costs)",
            "reported",
            `${fmt((1 - satLogs.throughput / sat.throughput) * 100, 1)} % below tracing off; CPU per order ${signed((satLogs.cpuMsPerOrder / sat.cpuMsPerOrder - 1) * 100)}%`,
            "",
          ],
          [
            "17 log lines shipped / dropped",
            "0 dropped",
            `${fmt(logLines?.shipped ?? NaN)} / ${fmt(logLines?.dropped ?? NaN)} (${fmt(logLines?.perOrder ?? NaN, 1)} per order)`,
            mark((logLines?.dropped ?? 1) === 0),
          ],
        ] as [string, string, string, string][])
      : []),
    ...Object.keys(rss).map(
      (name) =>
        [
          `7 peak RSS ${name}`,
          "≤ 120 MB",
          `${fmt(rss[name]! * 1.048576, 0)} MB (at ready ${fmt(rssAtReady[name]! * 1.048576, 0)} MB; tracing on ${fmt((rssOn[name] ?? NaN) * 1.048576, 0)} MB); ` +
            `anonymous ${fmt(anon[name]! * 1.048576, 0)} MB (tracing on ${fmt((anonOn[name] ?? NaN) * 1.048576, 0)} MB)`,
          mark(rss[name]! * 1.048576 <= 120),
        ] as [string, string, string, string],
    ),
    ...Object.keys(ready).map(
      (name) => [`7 ready ${name}`, "≤ 1.5 s", `${fmt(ready[name]!)} ms`, mark(ready[name]! <= 1_500)] as [string, string, string, string],
    ),
  ];
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), ["metric", "target", "measured", ""][i]!.length));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(`\nResults (${QUICK ? "--quick" : "full"} run, ${fmt((performance.now() - t0) / 1000, 0)} s, node ${process.version}):`);
  console.log(line(["metric", "target", "measured", ""]));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const r of rows) console.log(line(r));
  console.log(
    `\nsaturating run, tracing off: offered ${fmt(sat.offeredRate)}/s, accepted ${fmt(sat.steady.createdPerSec)}/s in the steady window, ` +
      `${fmt(sat.all.completed)} orders in ${fmt(sat.windowS, 1)} s, ${fmt(sat.cpuMsPerOrder, 1)} CPU ms/order (services + nats-server), ${fmt(sat.notifications)} notifications ` +
      `(last ${fmt(sat.notificationsLagMs)} ms after the last SHIPPING_READY), SHIPPING_READY subjects counted: ${fmt(sat.shippingReadyCounted ?? NaN)}; ` +
      `HTTP POST ${httpLine(sat)}; CPU cores: ${coresLine(sat)}`,
  );
  console.log(
    `tracing on: ${fmt(satOn.cpuMsPerOrder, 1)} CPU ms/order; ${fmt(spans.spans)} spans received (${fmt(spansPerOrder, 1)} per order of ${HAPPY_ORDER_SPANS})`,
  );
  if (satInfo)
    console.log(
      `info logs to stdout: ${fmt(satInfo.throughput)} orders/s, ${fmt(satInfo.cpuMsPerOrder, 2)} CPU ms/order; CPU cores: ${coresLine(satInfo)}`,
    );
  if (satLogs)
    console.log(
      `info logs shipped: ${fmt(satLogs.throughput)} orders/s, ${fmt(satLogs.cpuMsPerOrder, 2)} CPU ms/order; CPU cores: ${coresLine(satLogs)}`,
    );
  console.log(
    `peak RSS ${maxRss < 120 / 1.048576 ? "within" : "over"} target (max ${fmt(maxRss, 1)} MiB); slowest ready ${fmt(maxReady)} ms`,
  );
  if (JSON_OUT) {
    writeFileSync(
      JSON_OUT,
      JSON.stringify(
        {
          machine,
          quick: QUICK,
          raw,
          natsBench: nb,
          replay,
          offWarm,
          idleMsgs,
          sat,
          seedOff,
          seedOn,
          lat200,
          lat1000,
          onWarm,
          atTargetOn,
          satOn,
          spans,
          satInfo,
          satLogs,
          logLines,
          ready,
          rss,
          rssAtReady,
          rssOn,
          anon,
          anonOn,
          profiles,
        },
        (k, v) => (k === "latencies" ? undefined : v),
        2,
      ),
    );
  }
}

try {
  // `--soak`: bench/soak.ts, which reads its own options and exits by itself.
  if (argv.includes("--soak")) await import("./soak.ts");
  await main();
  process.exit(0);
} catch (err) {
  console.error(`bench failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
}
