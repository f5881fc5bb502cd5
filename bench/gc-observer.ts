/**
 * A preload for a service process that counts its garbage collections by kind and, at exit, writes
 * them beside its CPU time and heap to `$GC_SUMMARY_DIR/gc-<service>-<pid>.json`. For experiments
 * with V8's flags (BENCHMARKS.md, "Node flags"):
 *
 *   npm run bench -- --seed-only --service-env GC_SUMMARY_DIR=/tmp/gc \
 *     --node-args "--import ./bench/gc-observer.ts --max-semi-space-size=4 --heap-growing-percent=50"
 *
 * Durations are the pauses' wall time: on a busy machine they include time the process waited for a core.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { constants, PerformanceObserver } from "node:perf_hooks";

const KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: "minor",
  [constants.NODE_PERFORMANCE_GC_MAJOR]: "major",
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weakcb",
};
const byKind: Record<string, { count: number; ms: number }> = {};

new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = KINDS[(entry as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? "other";
    const sum = (byKind[kind] ??= { count: 0, ms: 0 });
    sum.count++;
    sum.ms += entry.duration;
  }
}).observe({ entryTypes: ["gc"] });

process.on("exit", () => {
  const dir = process.env.GC_SUMMARY_DIR;
  if (!dir) return;
  // A service is started as `node … dist/service.mjs <name>`.
  const service = basename(process.argv[process.argv.length - 1] ?? "node");
  const cpu = process.cpuUsage();
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    `${dir}/gc-${service}-${process.pid}.json`,
    JSON.stringify({ service, cpuMs: (cpu.user + cpu.system) / 1000, gc: byKind, memory: process.memoryUsage() }),
  );
});
