/**
 * `npm run bench:soak` (or `npm run bench -- --soak`) — the system at half its saturated rate for a
 * long while, every span exported and every log line shipped, to see that nothing creeps up.
 *
 *   npm run bench:soak                          20 min at half the saturated rate
 *   npm run bench:soak -- --minutes 1           smoke run
 *   npm run bench:soak -- --rate 300            this rate instead of half the saturated one
 *   npm run bench:soak -- --sample-seconds 30   sampling period (default 30)
 *   npm run bench:soak -- --sink                spans to bench/otlp-sink.ts (counts every span) instead of Jaeger
 *   npm run bench:soak -- --json FILE           also write every sample as JSON
 *
 * One system (bench/system.ts): nats-server, the four services at LOG_LEVEL=info shipping every
 * line to a real VictoriaLogs, exporting every span (always_on) to a real Jaeger (in-memory store,
 * last 10,000 traces: scripts/observability.ts). A warm-up, a ≈ 15 s closed-loop saturating run
 * (its completion rate is "saturated"), then the soak's paced load (bench/load.ts), sampled every
 * 30 s, then a drain wait. The verdicts are in bench/soak-stats.ts. Exit 1 only when the system
 * failed: orders accepted but not completed when the drain wait ended.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { NOTIFICATIONS_STREAM, ORDERS_STREAM } from "../nats/subjects.ts";
import { spanCount } from "../test/support/trace-shape.ts";
import {
  findJaeger,
  findVictoriaLogs,
  JAEGER_INSTALL_HINT,
  startJaeger,
  startVictoriaLogs,
  VICTORIA_LOGS_INSTALL_HINT,
  type JaegerProcess,
  type VictoriaLogsProcess,
} from "../scripts/observability.ts";
import { httpLoad, phaseStats, readPhaseEvents, streamMessages, waitDrained } from "./load.ts";
import { startOtlpSink, type OtlpSink } from "./otlp-sink.ts";
import { procCpuSeconds, procStatusMiB, startBenchSystem, type BenchSystem } from "./system.ts";
import { backlogVerdict, everyNth, levelVerdict, metricSum, ratioVerdict, type Point } from "./soak-stats.ts";

const { values: opts } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--soak"),
  options: {
    minutes: { type: "string", default: "20" },
    rate: { type: "string" },
    "sample-seconds": { type: "string", default: "30" },
    "saturate-seconds": { type: "string", default: "15" },
    "drain-seconds": { type: "string", default: "120" },
    sink: { type: "boolean", default: false },
    json: { type: "string" },
  },
  allowPositionals: false,
});
const MINUTES = Number(opts.minutes);
const SAMPLE_S = Number(opts["sample-seconds"]);
const SATURATE_S = Number(opts["saturate-seconds"]);
const DRAIN_S = Number(opts["drain-seconds"]);
for (const [k, v] of Object.entries({
  minutes: MINUTES,
  "sample-seconds": SAMPLE_S,
  "saturate-seconds": SATURATE_S,
  "drain-seconds": DRAIN_S,
})) {
  if (!(v > 0))
    throw new Error(
      `--${k} must be a positive number of ${k.split("-")[1] ?? "minutes"}, got ${JSON.stringify(opts[k as keyof typeof opts])}`,
    );
}
if (opts.rate !== undefined && !(Number(opts.rate) > 0))
  throw new Error(`--rate must be a positive number of orders/s, got ${JSON.stringify(opts.rate)}`);

/** Spans of one happy order's trace (no webhook here). */
const HAPPY_ORDER_SPANS = spanCount(["ORDER_CREATED", "PAYMENT_COMPLETED", "SHIPPING_READY"]);
/** Closed-loop connections of the warm-up and the saturating run: enough that HTTP outruns the pipeline. */
const CONNECTIONS = 64;
const WARMUP_ORDERS = 600;
/** Traces of the last orders looked up in Jaeger at the end: does each hold every span? */
const TRACE_SAMPLE = 30;
/** Flat-or-bounded tolerances: RSS and heap in MiB over the second half. */
const MEMORY_TOLERANCE_MIB = 3;
/** Heap used is a sawtooth between collections (tens of MiB at a 30 s sampling): wider. */
const HEAP_TOLERANCE_MIB = 10;

const t0 = performance.now();
const say = (msg: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number, digits = 0) =>
  Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "n/a";

interface ServiceSample {
  rssMiB: number;
  heapUsedMiB: number;
  lagP99Ms: number;
}

interface Sample {
  /** minutes since the soak's load started (negative: before it) */
  min: number;
  phase: "load" | "drain";
  services: Record<string, ServiceSample>;
  nats: { rssMiB: number; cores: number };
  companions: Record<string, { rssMiB: number; cores: number }>;
  orders: { messages: number; bytes: number };
  notifications: { messages: number; bytes: number };
  /** num_pending and num_ack_pending summed over every durable consumer */
  pending: number;
  ackPending: number;
  /** since the soak's load started: ORDER_CREATED published (accepted POSTs), SHIPPING_READY published */
  accepted: number;
  completed: number;
  /** rate × elapsed: what the load offered so far */
  offered: number;
  spans: { received: number; dropped: number };
  logLines: { shipped: number; dropped: number };
}

async function metricsText(baseUrl: string): Promise<string> {
  try {
    const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return await res.text();
  } catch {
    return "";
  }
}

async function consumerBacklog(sys: BenchSystem): Promise<{ pending: number; ackPending: number }> {
  let pending = 0;
  let ackPending = 0;
  for (const stream of [ORDERS_STREAM, NOTIFICATIONS_STREAM]) {
    for await (const c of sys.jsm.consumers.list(stream)) {
      if (!c.config.durable_name) continue;
      pending += c.num_pending;
      ackPending += c.num_ack_pending;
    }
  }
  return { pending, ackPending };
}

async function streamSize(sys: BenchSystem, name: string): Promise<{ messages: number; bytes: number }> {
  try {
    const info = await sys.jsm.streams.info(name);
    return { messages: info.state.messages, bytes: info.state.bytes };
  } catch {
    return { messages: NaN, bytes: NaN };
  }
}

/** Counters read once at the soak's start, so samples count the soak alone. */
interface Baseline {
  accepted: number;
  completed: number;
  spansReceived: number;
  spansDropped: number;
  logShipped: number;
  logDropped: number;
}

async function counters(sys: BenchSystem, sink: OtlpSink | undefined) {
  const texts = await Promise.all(sys.services.map((s) => metricsText(s.baseUrl)));
  const sum = (name: string, labels?: Record<string, string>) => texts.reduce((t, text) => t + (metricSum(text, name, labels) || 0), 0);
  return {
    texts,
    accepted: sum("orderstream_events_published_total", { event_type: "ORDER_CREATED", result: "new" }),
    completed: sum("orderstream_events_published_total", { event_type: "SHIPPING_READY", result: "new" }),
    spansDropped: sum("orderstream_trace_spans_dropped_total"),
    logShipped: sum("orderstream_log_lines_shipped_total"),
    logDropped: sum("orderstream_log_lines_dropped_total"),
    spansReceived: sink ? sink.stats().spans : NaN,
  };
}

function makeSampler(sys: BenchSystem, sink: OtlpSink | undefined, companions: { name: string; pid: number }[]) {
  let lastT = performance.now();
  let lastCpu: Record<string, number> = { "nats-server": procCpuSeconds(sys.nats.pid) };
  for (const c of companions) lastCpu[c.name] = procCpuSeconds(c.pid);
  return async (loadStartedMs: number, rate: number, loadSeconds: number, base: Baseline, phase: Sample["phase"]): Promise<Sample> => {
    const now = performance.now();
    const dt = (now - lastT) / 1000;
    const cpu: Record<string, number> = { "nats-server": procCpuSeconds(sys.nats.pid) };
    for (const c of companions) cpu[c.name] = procCpuSeconds(c.pid);
    const cores = (k: string) => (cpu[k]! - lastCpu[k]!) / dt;
    const c = await counters(sys, sink);
    const services: Record<string, ServiceSample> = {};
    sys.services.forEach((s, i) => {
      const text = c.texts[i]!;
      services[s.name] = {
        rssMiB: metricSum(text, "process_resident_memory_bytes") / 2 ** 20 || procStatusMiB(s.pid, "VmRSS"),
        heapUsedMiB: metricSum(text, "nodejs_heap_size_used_bytes") / 2 ** 20,
        lagP99Ms: metricSum(text, "nodejs_eventloop_lag_p99_seconds") * 1000,
      };
    });
    const backlog = await consumerBacklog(sys);
    const min = (now - loadStartedMs) / 60_000;
    const sample: Sample = {
      min,
      phase,
      services,
      nats: { rssMiB: procStatusMiB(sys.nats.pid, "VmRSS"), cores: cores("nats-server") },
      companions: Object.fromEntries(companions.map((p) => [p.name, { rssMiB: procStatusMiB(p.pid, "VmRSS"), cores: cores(p.name) }])),
      orders: await streamSize(sys, ORDERS_STREAM),
      notifications: await streamSize(sys, NOTIFICATIONS_STREAM),
      ...backlog,
      accepted: c.accepted - base.accepted,
      completed: c.completed - base.completed,
      offered: Math.round(rate * Math.min(Math.max(0, min * 60), loadSeconds)),
      spans: { received: c.spansReceived - base.spansReceived, dropped: c.spansDropped - base.spansDropped },
      logLines: { shipped: c.logShipped - base.logShipped, dropped: c.logDropped - base.logDropped },
    };
    lastT = now;
    lastCpu = cpu;
    return sample;
  };
}

/** Spans Jaeger holds for the traces of the last `n` completed orders (their SHIPPING_READY's traceparent). */
async function jaegerTraceCheck(
  sys: BenchSystem,
  jaeger: JaegerProcess,
  n: number,
): Promise<{ traces: number; complete: number; spansPerTrace: number[] }> {
  const { lastSeq } = await streamMessages(sys.jsm, ORDERS_STREAM);
  const spansPerTrace: number[] = [];
  for (let seq = lastSeq; seq > 0 && spansPerTrace.length < n && seq > lastSeq - 20 * n; seq--) {
    const m = await sys.jsm.streams.getMessage(ORDERS_STREAM, { seq }).catch(() => null);
    if (!m?.subject.endsWith(".SHIPPING_READY")) continue;
    const traceId = m.header?.get("traceparent")?.split("-")[1];
    if (!traceId) continue;
    const res = await fetch(`${jaeger.queryUrl}/api/traces/${traceId}`, { signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
    const body = res?.ok ? ((await res.json()) as { data?: { spans?: unknown[] }[] }) : undefined;
    spansPerTrace.push(body?.data?.[0]?.spans?.length ?? 0);
  }
  return { traces: spansPerTrace.length, complete: spansPerTrace.filter((s) => s >= HAPPY_ORDER_SPANS).length, spansPerTrace };
}

function table(samples: readonly Sample[], names: readonly string[], companionNames: readonly string[]): string {
  const head = [
    "min",
    ...names.map((n) => `${n.replace("-service", "")} RSS/heap MiB, lag p99 ms`),
    "nats RSS MiB, cores",
    ...companionNames.map((n) => `${n} RSS MiB, cores`),
    "ORDERS msgs / MiB",
    "NOTIF msgs / MiB",
    "pending / ack",
    "offered / accepted / completed",
    "spans recv / dropped",
    "log lines shipped / dropped",
  ];
  const rows = samples.map((s) => [
    `${fmt(s.min, 1)}${s.phase === "drain" ? " d" : ""}`,
    ...names.map((n) => `${fmt(s.services[n]!.rssMiB, 1)} / ${fmt(s.services[n]!.heapUsedMiB, 1)}, ${fmt(s.services[n]!.lagP99Ms, 1)}`),
    `${fmt(s.nats.rssMiB, 1)}, ${fmt(s.nats.cores, 2)}`,
    ...companionNames.map((n) => `${fmt(s.companions[n]!.rssMiB, 1)}, ${fmt(s.companions[n]!.cores, 2)}`),
    `${fmt(s.orders.messages)} / ${fmt(s.orders.bytes / 2 ** 20, 1)}`,
    `${fmt(s.notifications.messages)} / ${fmt(s.notifications.bytes / 2 ** 20, 1)}`,
    `${fmt(s.pending)} / ${fmt(s.ackPending)}`,
    `${fmt(s.offered)} / ${fmt(s.accepted)} / ${fmt(s.completed)}`,
    `${Number.isFinite(s.spans.received) ? fmt(s.spans.received) : "—"} / ${fmt(s.spans.dropped)}`,
    `${fmt(s.logLines.shipped)} / ${fmt(s.logLines.dropped)}`,
  ]);
  const line = (r: string[]) => `| ${r.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

async function main(): Promise<number> {
  const vlogsBinary = findVictoriaLogs();
  if (!vlogsBinary) throw new Error(`the soak ships logs to VictoriaLogs: ${VICTORIA_LOGS_INSTALL_HINT}`);
  if (!opts.sink && !findJaeger()) throw new Error(`the soak exports spans to Jaeger (or pass --sink): ${JAEGER_INSTALL_HINT}`);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? "?"}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")} at the start`;
  say(`machine: ${machine}; Node ${process.version}`);
  const vlogsDir = mkdtempSync(join(tmpdir(), "orderstream-soak-vlogs-"));
  let vlogs: VictoriaLogsProcess | undefined;
  let jaeger: JaegerProcess | undefined;
  let sink: OtlpSink | undefined;
  let sys: BenchSystem | undefined;
  try {
    vlogs = await startVictoriaLogs({ binary: vlogsBinary, dataDir: vlogsDir });
    if (opts.sink) sink = await startOtlpSink();
    else jaeger = await startJaeger();
    const otlp = sink?.url ?? jaeger!.otlpUrl;
    const companions = [{ name: "victoria-logs", pid: vlogs.pid }, ...(jaeger ? [{ name: "jaeger", pid: jaeger.pid }] : [])];
    say(`VictoriaLogs ${vlogs.url}; spans to ${jaeger ? `Jaeger ${otlp} (query ${jaeger.queryUrl})` : `the OTLP sink ${otlp}`}`);
    sys = await startBenchSystem({
      label: "soak",
      env: {
        LOG_LEVEL: "info",
        VICTORIA_LOGS_URL: vlogs.url,
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT: otlp,
        OTEL_TRACES_SAMPLER: "always_on",
      },
      companions,
    });
    say(`ready: ${sys.services.map((s) => `${s.name} ${fmt(s.readyMs)} ms`).join(", ")}`);

    // Warm-up (JIT), then the saturating run: closed loop, CONNECTIONS wide, SATURATE_S seconds.
    await httpLoad({ url: sys.orderUrl, rate: 0, durationS: 0, amount: WARMUP_ORDERS, connections: CONNECTIONS });
    await waitDrained(sys.jsm, 60_000);
    let rate = Number(opts.rate);
    let saturated = NaN;
    if (opts.rate === undefined) {
      const fromSeq = (await streamMessages(sys.jsm, ORDERS_STREAM)).lastSeq + 1;
      const started = Date.now();
      const http = await httpLoad({ url: sys.orderUrl, rate: 0, durationS: SATURATE_S, connections: CONNECTIONS });
      const drain = await waitDrained(sys.jsm, 90_000);
      const all = phaseStats((await readPhaseEvents(sys.js, sys.jsm, fromSeq)).orders);
      saturated = all.completed / ((all.lastCompletedMs - started) / 1000);
      rate = Math.max(1, Math.round(saturated / 2));
      say(
        `saturating run: ${fmt(http.ok)} POST 201 in ${fmt(http.seconds, 1)} s (${CONNECTIONS} closed-loop connections), ${fmt(all.completed)} orders completed, ` +
          `${drain.drained ? `drained ${fmt(drain.ms / 1000, 1)} s after` : "NOT drained"}: ${fmt(saturated)} orders/s saturated → soak at ${fmt(rate)} orders/s`,
      );
    }
    // Let the batch span processors and log shippers flush what the saturating run left queued.
    await sleep(6_000);

    const loadSeconds = Math.round(MINUTES * 60);
    const c0 = await counters(sys, sink);
    const base: Baseline = {
      accepted: c0.accepted,
      completed: c0.completed,
      spansReceived: c0.spansReceived,
      spansDropped: c0.spansDropped,
      logShipped: c0.logShipped,
      logDropped: c0.logDropped,
    };
    if (c0.spansDropped > 0 || c0.logDropped > 0)
      say(
        `before the soak (warm-up and saturating run): ${fmt(c0.spansDropped)} spans and ${fmt(c0.logDropped)} log lines dropped — the soak counts its own from here`,
      );
    const sample = makeSampler(sys, sink, companions);
    const samples: Sample[] = [];
    const loadStarted = performance.now();
    samples.push(await sample(loadStarted, rate, loadSeconds, base, "load"));
    say(`soak: ${fmt(rate)} orders/s for ${fmt(MINUTES, 1)} min, a sample every ${SAMPLE_S} s`);
    const load = httpLoad({ url: sys.orderUrl, rate, durationS: loadSeconds });
    let loadDone = false;
    void load.finally(() => {
      loadDone = true;
    });
    const report = (s: Sample) =>
      say(
        `${fmt(s.min, 1)} min: ` +
          `RSS ${sys!.services.map((x) => `${x.name.replace("-service", "")} ${fmt(s.services[x.name]!.rssMiB, 0)}`).join("/")} MiB, ` +
          `lag p99 max ${fmt(Math.max(...Object.values(s.services).map((v) => v.lagP99Ms)), 1)} ms, nats ${fmt(s.nats.rssMiB, 0)} MiB ${fmt(s.nats.cores, 2)} cores; ` +
          `ORDERS ${fmt(s.orders.bytes / 2 ** 20, 1)} MiB; pending ${fmt(s.pending)}/${fmt(s.ackPending)}; accepted ${fmt(s.accepted)} completed ${fmt(s.completed)}`,
      );
    // Bounded: one sample per period for the load's length, then the drain wait.
    for (let i = 1; i <= Math.ceil(loadSeconds / SAMPLE_S) + 2 && !loadDone; i++) {
      const due = loadStarted + i * SAMPLE_S * 1000;
      while (!loadDone && performance.now() < due) await sleep(Math.min(500, Math.max(1, due - performance.now())));
      if (loadDone) break;
      const s = await sample(loadStarted, rate, loadSeconds, base, "load");
      samples.push(s);
      report(s);
    }
    const http = await load;
    const loadEndMin = (performance.now() - loadStarted) / 60_000;
    say(
      `load ended: ${fmt(http.ok)} POST 201, ${fmt(http.non2xx)} non-2xx, ${fmt(http.errors)} errors; HTTP p50 ${fmt(http.latency.p50, 1)} / p99 ${fmt(http.latency.p99, 1)} / max ${fmt(http.latency.max)} ms`,
    );
    const drain = await waitDrained(sys.jsm, DRAIN_S * 1000);
    say(`${drain.drained ? "drained" : "NOT drained"} ${fmt(drain.ms / 1000, 1)} s after the load (pending ${fmt(drain.pending)})`);
    await sleep(6_000); // one batch-span-processor schedule and a log-shipper flush
    const last = await sample(loadStarted, rate, loadSeconds, base, "drain");
    samples.push(last);
    report(last);
    const traceCheck = jaeger ? await jaegerTraceCheck(sys, jaeger, TRACE_SAMPLE) : undefined;

    // ---- verdicts ----------------------------------------------------------------------------
    const names = sys.services.map((s) => s.name);
    const companionNames = companions.map((c) => c.name);
    const underLoad = samples.filter((s) => s.phase === "load");
    const series = (get: (s: Sample) => number, from = underLoad): Point[] => from.map((s) => ({ min: s.min, value: get(s) }));
    const verdicts: string[] = [];
    const level = (label: string, points: Point[], tolerance: number, unit: string) => {
      const v = levelVerdict(points, tolerance);
      verdicts.push(
        `${label}: ${v.verdict.toUpperCase()} — second-half slope ${fmt(v.secondHalfSlope, 2)} ${unit}/min, max first half ${fmt(v.firstHalfMax, 1)} / second half ${fmt(v.secondHalfMax, 1)} ${unit}, last ${fmt(v.last, 1)} (tolerance ${tolerance} ${unit})`,
      );
      return v;
    };
    for (const n of names) {
      level(
        `RSS ${n}`,
        series((s) => s.services[n]!.rssMiB),
        MEMORY_TOLERANCE_MIB,
        "MiB",
      ).verdict;
      level(
        `heap used ${n}`,
        series((s) => s.services[n]!.heapUsedMiB),
        HEAP_TOLERANCE_MIB,
        "MiB",
      );
    }
    level(
      "RSS nats-server",
      series((s) => s.nats.rssMiB),
      MEMORY_TOLERANCE_MIB * 3,
      "MiB",
    ).verdict;
    for (const n of companionNames)
      level(
        `RSS ${n}`,
        series((s) => s.companions[n]!.rssMiB),
        MEMORY_TOLERANCE_MIB * 5,
        "MiB",
      );
    for (const n of names) {
      const lag = series((s) => s.services[n]!.lagP99Ms);
      const values = lag.map((p) => p.value).filter(Number.isFinite);
      const { first, second } = { first: lag.slice(0, Math.floor(lag.length / 2)), second: lag.slice(Math.floor(lag.length / 2)) };
      const max = (ps: Point[]) => Math.max(...ps.map((p) => p.value).filter(Number.isFinite));
      verdicts.push(
        `event-loop lag p99 ${n}: max ${fmt(Math.max(...values), 1)} ms (first half ${fmt(max(first), 1)}, second half ${fmt(max(second), 1)}), median ${fmt(values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN, 1)} ms`,
      );
    }
    const pending = backlogVerdict(
      series((s) => s.pending + s.ackPending, samples),
      loadEndMin,
      0,
    );
    verdicts.push(
      `consumer pending + ack pending: ${pending.verdict.toUpperCase()} — max under load ${fmt(pending.maxUnderLoad)}, after the drain ${fmt(pending.last)}`,
    );
    const orderCount = series((s) => s.accepted, samples);
    const ordersBytes = ratioVerdict(
      series((s) => s.orders.bytes - samples[0]!.orders.bytes, samples),
      orderCount,
    );
    verdicts.push(
      `ORDERS bytes per accepted order: ${ordersBytes.verdict.toUpperCase()} — ${fmt(ordersBytes.mean)} B (second half ${fmt(ordersBytes.min)}–${fmt(ordersBytes.max)}, spread ${fmt(ordersBytes.spread * 100, 1)} %)`,
    );
    const notifBytes = ratioVerdict(
      series((s) => s.notifications.bytes - samples[0]!.notifications.bytes, samples),
      orderCount,
    );
    verdicts.push(
      `NOTIFICATIONS bytes per accepted order: ${notifBytes.verdict.toUpperCase()} — ${fmt(notifBytes.mean)} B (second half ${fmt(notifBytes.min)}–${fmt(notifBytes.max)}, spread ${fmt(notifBytes.spread * 100, 1)} %)`,
    );
    // nats-server keeps an index entry per distinct subject in memory, and every event has its own
    // subject (the order id is in it): its RSS follows the messages stored, not the time.
    const natsPerMessage = ratioVerdict(
      series((s) => (s.nats.rssMiB - samples[0]!.nats.rssMiB) * 2 ** 20),
      series((s) => s.orders.messages - samples[0]!.orders.messages + s.notifications.messages - samples[0]!.notifications.messages),
      0.15,
    );
    verdicts.push(
      `nats-server RSS growth per message stored (ORDERS + NOTIFICATIONS, one subject each): ${natsPerMessage.verdict.toUpperCase()} within 15 % — ${fmt(natsPerMessage.mean)} B (second half ${fmt(natsPerMessage.min)}–${fmt(natsPerMessage.max)})`,
    );
    const lost = last.accepted - last.completed;
    verdicts.push(
      `orders: offered ${fmt(last.offered)}, POST 201 ${fmt(http.ok)}, ORDER_CREATED ${fmt(last.accepted)}, SHIPPING_READY ${fmt(last.completed)} ` +
        `(${fmt((last.accepted / Math.max(1, last.offered)) * 100, 2)} % of the offered load accepted; ${lost === 0 ? "none lost" : `${fmt(lost)} accepted but not completed`})`,
    );
    const spansExpected = last.accepted * HAPPY_ORDER_SPANS;
    const spansDropped = last.spans.dropped;
    verdicts.push(
      sink
        ? `spans: ${fmt(last.spans.received)} received by the sink of ${fmt(spansExpected)} expected (${HAPPY_ORDER_SPANS} per order: ${fmt((last.spans.received / spansExpected) * 100, 2)} %); the services counted ${fmt(spansDropped)} dropped`
        : `spans: ${fmt(spansExpected)} expected (${HAPPY_ORDER_SPANS} per order), the services counted ${fmt(spansDropped)} dropped (orderstream_trace_spans_dropped_total); ` +
            `Jaeger holds ${fmt(traceCheck?.complete ?? NaN)} of the last ${fmt(traceCheck?.traces ?? NaN)} orders' traces complete (span counts ${traceCheck?.spansPerTrace.join(",") ?? "—"})`,
    );
    verdicts.push(
      `log lines: ${fmt(last.logLines.shipped)} shipped to VictoriaLogs (${fmt(last.logLines.shipped / Math.max(1, last.accepted), 2)} per accepted order), ${fmt(last.logLines.dropped)} dropped`,
    );

    const step = Math.max(1, Math.ceil(samples.length / 24));
    console.log(
      `\nSoak: ${fmt(rate)} orders/s (${Number.isFinite(saturated) ? `half of ${fmt(saturated)} saturated` : "--rate"}) for ${fmt(MINUTES, 1)} min; ${jaeger ? "spans to Jaeger" : "spans to the OTLP sink"}, info logs shipped to VictoriaLogs; ${machine}`,
    );
    console.log(`Samples${step > 1 ? ` (every ${step}th, and the last)` : ""}; "d" = after the drain:\n`);
    console.log(table(everyNth(samples, step), names, companionNames));
    console.log(`\nVerdicts (figures, not assertions):\n${verdicts.map((v) => `- ${v}`).join("\n")}`);
    if (opts.json)
      writeFileSync(
        opts.json,
        JSON.stringify({ machine, rate, saturated, minutes: MINUTES, http, drain, samples, traceCheck, verdicts }, null, 2),
      );
    // ORDER_CREATED may exceed the 201s autocannon counted (requests in flight when its duration ran
    // out are answered but not counted); fewer would be an answered order that was never published.
    const unpublished = http.ok - last.accepted;
    const failed = !drain.drained || lost > 0 || unpublished > 0;
    if (failed)
      console.error(
        `\nFAILED: ${!drain.drained ? "the backlog did not drain within the wait; " : ""}${lost > 0 ? `${lost} accepted orders not completed; ` : ""}${unpublished > 0 ? `${unpublished} POST 201 without an ORDER_CREATED` : ""}`,
      );
    return failed ? 1 : 0;
  } finally {
    await sys?.stop();
    await jaeger?.stop();
    await sink?.close();
    await vlogs?.stop();
    rmSync(vlogsDir, { recursive: true, force: true });
  }
}

try {
  process.exit(await main());
} catch (err) {
  console.error(`soak failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
}
