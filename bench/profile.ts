/**
 * Summarises V8 `.cpuprofile` files (from `node --cpu-prof`): self time per function, top N.
 * `node --import tsx bench/profile.ts <dir-or-file>...` prints the summary of each file.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileLine {
  fn: string;
  where: string;
  selfMs: number;
  share: number;
}

function shortUrl(url: string): string {
  if (!url) return "";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) return url.slice(nm + "node_modules/".length);
  const repo = url.indexOf("/work/");
  return repo >= 0 ? url.slice(url.indexOf("/", repo + 6) + 1) : url.replace(/^file:\/\//, "");
}

/** Self time per function (summed over every node of the same name and location), largest first. */
/** Which package (or repo folder, or node internals) a script URL belongs to. */
function packageOf(url: string): string {
  if (!url) return "(native / vm)";
  if (url.startsWith("node:")) return "node internals";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const short = shortUrl(url);
  return short.includes("/") ? `repo: ${short.split("/")[0]}/` : short;
}

export function summariseProfile(
  file: string,
  top = 15,
): { totalMs: number; idleMs: number; lines: ProfileLine[]; packages: { name: string; selfMs: number; share: number }[] } {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byNode = new Map<number, number>();
  if (profile.samples && profile.timeDeltas) {
    for (let i = 0; i < profile.samples.length; i++) {
      const id = profile.samples[i]!;
      byNode.set(id, (byNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
    }
  }
  const byFn = new Map<string, ProfileLine>();
  const byPackage = new Map<string, number>();
  let totalMs = 0;
  let idleMs = 0;
  for (const node of profile.nodes) {
    const ms = byNode.get(node.id) ?? 0;
    totalMs += ms;
    const fn = node.callFrame.functionName || "(anonymous)";
    if (fn === "(idle)") {
      idleMs += ms;
      continue;
    }
    const pkg = fn.startsWith("(") ? fn : packageOf(node.callFrame.url);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + ms);
    const where = node.callFrame.url ? `${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}` : "";
    const key = `${fn}@${where}`;
    const line = byFn.get(key) ?? { fn, where, selfMs: 0, share: 0 };
    line.selfMs += ms;
    byFn.set(key, line);
  }
  const busy = totalMs - idleMs;
  const lines = [...byFn.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, top);
  for (const l of lines) l.share = busy > 0 ? l.selfMs / busy : 0;
  const packages = [...byPackage.entries()]
    .map(([name, selfMs]) => ({ name, selfMs, share: busy > 0 ? selfMs / busy : 0 }))
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, 10);
  return { totalMs, idleMs, lines, packages };
}

export function formatProfile(file: string, top = 15): string {
  const { totalMs, idleMs, lines, packages } = summariseProfile(file, top);
  const out = [`${basename(file)}: ${(totalMs / 1000).toFixed(1)} s sampled, ${((totalMs - idleMs) / 1000).toFixed(1)} s busy`];
  out.push(`  by package: ${packages.map((p) => `${p.name} ${(p.share * 100).toFixed(0)}%`).join(", ")}`);
  for (const l of lines)
    out.push(`  ${(l.share * 100).toFixed(1).padStart(5)}%  ${l.selfMs.toFixed(0).padStart(6)} ms  ${l.fn}  ${l.where}`);
  return out.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const files = process.argv.slice(2).flatMap((p) =>
    statSync(p).isDirectory()
      ? readdirSync(p)
          .filter((f) => f.endsWith(".cpuprofile"))
          .map((f) => join(p, f))
      : [p],
  );
  for (const f of files) console.log(`${formatProfile(f, 20)}\n`);
}
