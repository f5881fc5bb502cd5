/**
 * S2 compression of the ORDERS and NOTIFICATIONS streams against none, on the project's own
 * system at a fixed rate: disk bytes and CPU per order, both settings in one run, interleaved
 * (none, s2, none, s2) so that the load of the shared machine falls on both alike.
 *
 *   node --import tsx bench/compression.ts [--rate 120] [--seconds 50] [--rounds 2]
 *
 * nats-server compresses a message block once it is no longer the one being written (blocks of
 * 8 MiB for these streams), so the figure that matters for sizing is the sealed blocks' ratio:
 * disk bytes of the sealed blocks over the logical bytes they hold. Bytes per order at steady
 * state = logical bytes per order × that ratio. CPU is user+system of the four services and
 * nats-server (from /proc) per completed order.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { countShippingReady, httpLoad, waitDrained } from "./load.ts";
import { procCpuSeconds, startBenchSystem, type BenchSystem } from "./system.ts";
import { NOTIFICATIONS_STREAM, ORDERS_STREAM } from "../nats/subjects.ts";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const RATE = arg("rate", 120);
const SECONDS = arg("seconds", 50);
const ROUNDS = arg("rounds", 2);

interface StreamDisk {
  logical: number;
  disk: number;
  sealedRatio: number;
  blocks: number;
}

/** The stream's .blk files: all, and the last (still written, never compressed). */
async function streamDisk(sys: BenchSystem, stream: string): Promise<StreamDisk> {
  const dir = join(sys.nats.storeDir, "jetstream", "$G", "streams", stream, "msgs");
  const blocks = readdirSync(dir)
    .filter((f) => f.endsWith(".blk"))
    .map((f) => ({ n: Number.parseInt(f, 10), size: statSync(join(dir, f)).size }))
    .sort((a, b) => a.n - b.n);
  const disk = blocks.reduce((sum, b) => sum + b.size, 0);
  const last = blocks.at(-1)?.size ?? 0;
  const logical = (await sys.jsm.streams.info(stream)).state.bytes;
  // The last block is stored as written: what is left of the logical bytes is in the sealed ones.
  const sealedRatio = logical - last > 0 ? (disk - last) / (logical - last) : NaN;
  return { logical, disk, sealedRatio, blocks: blocks.length };
}

const systemCpu = (sys: BenchSystem) => sys.natsCpuSeconds() + sys.services.reduce((sum, s) => sum + s.cpuSeconds(), 0);

async function round(compression: "none" | "s2"): Promise<void> {
  const sys = await startBenchSystem({ label: `compression-${compression}`, env: { STREAM_COMPRESSION: compression } });
  try {
    const cpuBefore = systemCpu(sys);
    const natsBefore = procCpuSeconds(sys.nats.pid);
    const http = await httpLoad({ url: sys.orderUrl, rate: RATE, durationS: SECONDS });
    const drained = await waitDrained(sys.jsm, 90_000);
    const cpu = systemCpu(sys) - cpuBefore;
    const natsCpu = procCpuSeconds(sys.nats.pid) - natsBefore;
    const orders = await countShippingReady(sys.jsm);
    // Let the server finish compressing the block it sealed last.
    await new Promise((r) => setTimeout(r, 2_000));
    const o = await streamDisk(sys, ORDERS_STREAM);
    const n = await streamDisk(sys, NOTIFICATIONS_STREAM);
    const configured = (await sys.jsm.streams.info(ORDERS_STREAM)).config.compression;
    const perOrder = (d: StreamDisk) => (d.logical / orders) * (Number.isNaN(d.sealedRatio) ? 1 : d.sealedRatio);
    console.log(
      [
        `${compression.padEnd(4)} (stream says ${configured}): ${http.ok} orders accepted, ${orders} shipped, ${drained.drained ? "drained" : "NOT drained"}`,
        `  CPU ${((cpu * 1000) / orders).toFixed(2)} ms/order (nats-server ${((natsCpu * 1000) / orders).toFixed(2)})`,
        `  ORDERS: ${o.blocks} blocks, logical ${(o.logical / orders).toFixed(0)} B/order, disk now ${(o.disk / orders).toFixed(0)} B/order, sealed blocks at ${(o.sealedRatio * 100).toFixed(1)} % → ${perOrder(o).toFixed(0)} B/order at steady state`,
        `  NOTIFICATIONS: ${n.blocks} blocks, logical ${(n.logical / orders).toFixed(0)} B/order, disk now ${(n.disk / orders).toFixed(0)} B/order, sealed blocks at ${(n.sealedRatio * 100).toFixed(1)} % → ${perOrder(n).toFixed(0)} B/order at steady state`,
      ].join("\n"),
    );
  } finally {
    await sys.stop();
  }
}

console.log(`compression bench: ${RATE} orders/s for ${SECONDS} s per round, ${ROUNDS} rounds of none and s2`);
for (let i = 0; i < ROUNDS; i++) {
  await round("none");
  await round("s2");
}
