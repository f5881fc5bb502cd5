/**
 * `npm run bench:alloc` — bytes allocated per order by code site, in each service process.
 *
 * The services' CPU under load goes largely to the garbage collector, and what it collects is
 * churn, not a growing heap: this counts every allocation (V8's sampling heap profiler with the
 * objects the minor and major GCs collected included), so the bytes per order are a property of
 * the code, far less noisy on a shared machine than CPU time. The four services run from the
 * bundle with SERVICE_NODE_ARGS plus `--inspect` on a loopback port, against a private nats-server;
 * after a warm-up, sampling runs over ORDERS closed-loop orders (the seed load's body and 50
 * connections, as `npm run bench -- --seed-only`) until the pipeline has drained. Frames are mapped
 * back to the TypeScript sources through the bundle's source maps.
 *
 *   npm run bench:alloc                           2,000 orders after a 500-order warm-up
 *   npm run bench:alloc -- --orders 4000 --top 25 more orders, more sites per service
 *   npm run bench:alloc -- --json FILE            also every site's bytes per order as JSON
 *   npm run bench:alloc -- --interval 16384       sampling interval in bytes (default 8192)
 *   npm run bench:alloc -- --tracing every        tracing on, every span exported to a local OTLP sink;
 *       `--tracing policy`: sampling by outcome (otel/outcome-sampling.ts) instead
 *   npm run bench:alloc -- --live                 what is still alive instead: sampling runs for the
 *       first half of the load and stops while orders are in flight, without the collected objects,
 *       so what it reports is what survived the GCs of that moment (held across awaits, queued,
 *       remembered), in bytes by site rather than per order
 *
 * Figures are estimates (V8 scales each sample by its size and the interval); two runs of the
 * same code agree within a few per cent on the totals, less closely on the small sites.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { SERVICE_NODE_ARGS } from "../scripts/build.ts";
import { ORDERS_STREAM } from "../nats/subjects.ts";
import { OUTCOME_SAMPLER } from "../otel/outcome-sampling.ts";
import { httpLoad, SEED_BODY, waitDrained } from "./load.ts";
import { startOtlpSink } from "./otlp-sink.ts";
import { startBenchSystem, type BenchService } from "./system.ts";

const { values } = parseArgs({
  options: {
    orders: { type: "string", default: "2000" },
    warmup: { type: "string", default: "500" },
    top: { type: "string", default: "15" },
    interval: { type: "string", default: "8192" },
    json: { type: "string" },
    live: { type: "boolean", default: false },
    tracing: { type: "string" },
  },
});
if (values.tracing !== undefined && values.tracing !== "every" && values.tracing !== "policy") {
  console.error(`--tracing takes "every" or "policy", not "${values.tracing}"`);
  process.exit(2);
}
const TRACING = values.tracing as "every" | "policy" | undefined;
const ORDERS = Number(values.orders);
const WARMUP = Number(values.warmup);
const TOP = Number(values.top);
const INTERVAL = Number(values.interval);
const LIVE = values.live;

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface SamplingNode {
  callFrame: CallFrame;
  selfSize: number;
  children: SamplingNode[];
}

/** A minimal Chrome DevTools Protocol client over the inspector's WebSocket (Node's global WebSocket). */
class Inspector {
  private next = 0;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private constructor(private readonly ws: WebSocket) {
    ws.addEventListener("message", (ev) => {
      const msg = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: { message: string } };
      const w = msg.id !== undefined ? this.waiting.get(msg.id) : undefined;
      if (!w) return;
      this.waiting.delete(msg.id!);
      if (msg.error) w.reject(new Error(msg.error.message));
      else w.resolve(msg.result);
    });
  }
  static open(url: string): Promise<Inspector> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.addEventListener("open", () => resolve(new Inspector(ws)), { once: true });
      ws.addEventListener("error", () => reject(new Error(`cannot open the inspector at ${url}`)), { once: true });
    });
  }
  send<T>(method: string, params: object = {}): Promise<T> {
    const id = ++this.next;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }
  close(): void {
    this.ws.close();
  }
}

/** The inspector's WebSocket URL, from the line node prints on stderr at start. */
function inspectorUrl(service: BenchService): string {
  const m = /Debugger listening on (ws:\/\/\S+)/.exec(service.output());
  if (!m) throw new Error(`${service.name}: no "Debugger listening on" line in its output`);
  return m[1]!;
}

/** Source maps of the bundle's files, read once each. */
const maps = new Map<string, SourceMap | null>();
function sourceMapOf(url: string): SourceMap | null {
  if (!maps.has(url)) {
    let map: SourceMap | null = null;
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(url)}.map`, "utf8")));
    } catch {
      /* not a file with a map: node internals, eval */
    }
    maps.set(url, map);
  }
  return maps.get(url)!;
}

/** `file:line` in the repository's sources (or the package inside node_modules), from a bundle frame. */
function sourceOf(frame: CallFrame): string {
  if (!frame.url) return "(native)";
  if (frame.url.startsWith("node:")) return frame.url;
  // findEntry answers {} where the map has no mapping.
  const entry = (frame.url.startsWith("file:") ? sourceMapOf(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber) : undefined) as
    | { originalSource?: string; originalLine?: number }
    | undefined;
  if (entry?.originalSource === undefined || entry.originalLine === undefined) return frame.url.replace(/^file:\/\/.*\/dist\//, "dist/");
  const src = entry.originalSource.replace(/^(\.\.\/)+/, "");
  const nm = src.lastIndexOf("node_modules/");
  return `${nm >= 0 ? src.slice(nm + "node_modules/".length) : src}:${entry.originalLine + 1}`;
}

interface Site {
  fn: string;
  where: string;
  bytes: number;
  /** For a site outside the repository's code: bytes by the nearest repository frame that called it. */
  via: Map<string, number>;
}

/** A frame of the repository's own code (not a dependency, not Node, not native). */
const isRepoFrame = (where: string) => /^(nats|otel|host|services|shared|scripts)\//.test(where);

/** Self bytes per function (name + source line), and per source file. */
function sites(head: SamplingNode): { bySite: Site[]; byFile: Map<string, number>; total: number } {
  const bySite = new Map<string, Site>();
  const byFile = new Map<string, number>();
  let total = 0;
  const stack: { node: SamplingNode; caller: string }[] = [{ node: head, caller: "" }];
  while (stack.length > 0) {
    const { node, caller } = stack.pop()!;
    const where = sourceOf(node.callFrame);
    const fn = node.callFrame.functionName || "(anonymous)";
    const own = isRepoFrame(where) ? `${fn} ${where}` : caller;
    for (const child of node.children) stack.push({ node: child, caller: own });
    if (node.selfSize === 0) continue;
    total += node.selfSize;
    const key = `${fn} ${where}`;
    let site = bySite.get(key);
    if (!site) bySite.set(key, (site = { fn, where, bytes: 0, via: new Map() }));
    site.bytes += node.selfSize;
    if (own !== key)
      site.via.set(caller || "(no repository frame)", (site.via.get(caller || "(no repository frame)") ?? 0) + node.selfSize);
    const file = where.replace(/:\d+$/, "");
    byFile.set(file, (byFile.get(file) ?? 0) + node.selfSize);
  }
  return { bySite: [...bySite.values()].sort((a, b) => b.bytes - a.bytes), byFile, total };
}

/** The largest callers of a site, as "caller 60%, caller 30%". */
function callers(site: Site): string {
  const all = [...site.via.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3);
  return all.map(([c, b]) => `${c} ${((100 * b) / site.bytes).toFixed(0)}%`).join(", ");
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1).padStart(7)} KiB`;

// Tracing on: spans go to a sink in this process, so exporting them costs what it costs in production.
const sink = TRACING ? await startOtlpSink() : undefined;
const tracingEnv: Record<string, string> = sink
  ? {
      OTEL_TRACES_EXPORTER: "otlp",
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_TRACES_SAMPLER: TRACING === "policy" ? OUTCOME_SAMPLER : "always_on",
    }
  : {};
const sys = await startBenchSystem({ label: "alloc", env: tracingEnv, nodeArgs: [...SERVICE_NODE_ARGS, "--inspect=127.0.0.1:0"] });
console.log(`tracing: ${TRACING === undefined ? "off" : TRACING === "policy" ? "on, sampling by outcome" : "on, every span exported"}`);
const report: Record<string, { totalPerOrder: number; sites: { fn: string; where: string; perOrder: number; via: string }[] }> = {};
try {
  console.log(`warm-up: ${WARMUP} orders`);
  await httpLoad({ url: sys.orderUrl, rate: 0, durationS: 0, amount: WARMUP, connections: 50, body: SEED_BODY });
  await waitDrained(sys.jsm, 60_000);
  const inspectors = await Promise.all(sys.services.map((s) => Inspector.open(inspectorUrl(s))));
  for (const i of inspectors) {
    await i.send("HeapProfiler.enable");
    await i.send("HeapProfiler.collectGarbage");
    await i.send("HeapProfiler.startSampling", {
      samplingInterval: INTERVAL,
      includeObjectsCollectedByMajorGC: !LIVE,
      includeObjectsCollectedByMinorGC: !LIVE,
    });
  }
  console.log(`sampling: ${ORDERS} orders (50 connections, ${SEED_BODY})${LIVE ? ", stopped halfway" : ""}`);
  const before = (await sys.jsm.streams.info(ORDERS_STREAM)).state.messages;
  const loading = httpLoad({ url: sys.orderUrl, rate: 0, durationS: 0, amount: ORDERS, connections: 50, body: SEED_BODY });
  const profiles: SamplingNode[] = [];
  if (LIVE) {
    // Half the orders' events stored (a happy order has three): what is alive then is what the load keeps alive.
    const started = performance.now();
    while (performance.now() - started < 60_000) {
      const stored = (await sys.jsm.streams.info(ORDERS_STREAM)).state.messages - before;
      if (stored >= ORDERS * 1.5) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const i of inspectors)
      profiles.push((await i.send<{ profile: { head: SamplingNode } }>("HeapProfiler.stopSampling")).profile.head);
  }
  const load = await loading;
  const drained = await waitDrained(sys.jsm, 120_000);
  if (!drained.drained) console.log(`warning: not drained after ${Math.round(drained.ms)} ms (${drained.pending} pending)`);
  const orders = load.ok;
  console.log(`${orders} orders answered 2xx (${load.non2xx} other, ${load.errors} errors) in ${load.seconds.toFixed(1)} s\n`);
  // Live: bytes alive at the moment sampling stopped (not per order); otherwise bytes per order.
  const per = LIVE ? 1 : orders;
  const unit = LIVE ? "alive while loaded" : "per order";
  for (const [n, service] of sys.services.entries()) {
    const head = LIVE
      ? profiles[n]!
      : (await inspectors[n]!.send<{ profile: { head: SamplingNode } }>("HeapProfiler.stopSampling")).profile.head;
    inspectors[n]!.close();
    const { bySite, byFile, total } = sites(head);
    console.log(`${service.name}: ${kb(total / per)} ${unit} (peak RSS ${service.peakRssMiB().toFixed(0)} MiB)`);
    const files = [...byFile.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
    console.log(`  by file: ${files.map(([f, b]) => `${f} ${((100 * b) / total).toFixed(0)}%`).join(", ")}`);
    for (const s of bySite.slice(0, TOP)) {
      console.log(`  ${kb(s.bytes / per)}  ${s.fn}  ${s.where}`);
      if (s.via.size > 0) console.log(`                 ← ${callers(s)}`);
    }
    console.log("");
    report[service.name] = {
      totalPerOrder: total / per,
      sites: bySite.map((s) => ({ fn: s.fn, where: s.where, perOrder: s.bytes / per, via: callers(s) })),
    };
  }
  const sum = Object.values(report).reduce((a, r) => a + r.totalPerOrder, 0);
  console.log(`all services: ${kb(sum)} ${LIVE ? "alive while loaded" : "per order"}`);
  if (values.json) writeFileSync(values.json, JSON.stringify({ orders, interval: INTERVAL, services: report }, null, 2));
} finally {
  await sys.stop();
  await sink?.close();
}
process.exit(0);
