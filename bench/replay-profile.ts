/**
 * A CPU profile of `rebuildOrderView` alone: fills ORDERS on a private nats-server the way the bench
 * does (bench/replay.ts), then profiles only the rebuild (the inspector's profiler around the call,
 * so the fill is not in it) and prints its top self time.
 *
 *   node --import tsx bench/replay-profile.ts [--orders 33334] [--out /tmp/replay.cpuprofile]
 *
 * BENCHMARKS.md, "Third session", quotes it. Needs `nats-server` like the bench.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { bucketOptions, ensureBucket, ensureOrderStreams } from "../nats/setup.ts";
import { BUCKETS } from "../nats/subjects.ts";
import { rebuildOrderView } from "../services/order/rebuild-view.ts";
import { formatProfile } from "./profile.ts";
import { onBareServer, procCpuSeconds } from "./system.ts";
import { fill } from "./replay.ts";

const { values } = parseArgs({ options: { orders: { type: "string", default: "33334" }, out: { type: "string", default: "/tmp/replay.cpuprofile" } } });
// The services' connection settings (no Error per request), as the CLI's rebuild-view has them.
await onBareServer("replay-profile", async ({ server, nc, js, jsm }) => {
  await ensureOrderStreams(jsm, 1);
  const kv = await ensureBucket(nc, jsm, BUCKETS.orderViews, bucketOptions.state);
  await fill(js, Number(values.orders));
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  const started = performance.now();
  const serverBefore = procCpuSeconds(server.pid);
  const clientBefore = process.cpuUsage();
  const result = await rebuildOrderView(js, jsm, kv);
  const seconds = (performance.now() - started) / 1000;
  const client = process.cpuUsage(clientBefore);
  const serverCores = (procCpuSeconds(server.pid) - serverBefore) / seconds;
  const clientCores = (client.user + client.system) / 1e6 / seconds;
  const { profile } = await session.post("Profiler.stop");
  writeFileSync(values.out, JSON.stringify(profile));
  console.log(
    `${result.events} events in ${seconds.toFixed(2)} s: ${Math.round(result.events / seconds)} events/s; ` +
      `CPU cores used: this process ${clientCores.toFixed(2)}, nats-server ${serverCores.toFixed(2)}`,
  );
  console.log(formatProfile(values.out, 20));
});
process.exit(0);
