/**
 * `npm run bench -- --sync`: what JetStream's fsync setting costs on npm start's kind of server (one
 * nats-server, file store, the four services). One system per setting — nats-server's default (an
 * fsync every 2 minutes, no config), short intervals, and `always` — each with the config npm start
 * writes (scripts/local-nats-config.ts). After a warm-up each, they take turns in rounds (the order
 * rotated every round) so a change in the machine's background load falls on all of them: a
 * saturating run (one offered rate for all in a round), then fixed rates of 200 and 1,000
 * orders/s (1,000 only for a setting whose saturating run reached it). The figures are per-round ratios
 * to the default, medians over the rounds; absolute numbers on a shared machine move between runs.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { syncIntervalFrom, writeLocalNatsConfig, type SyncInterval } from "../scripts/local-nats-config.ts";
import { percentile, type HttpLoadResult, type PhaseStats } from "./load.ts";
import { startBenchSystem, type BenchSystem } from "./system.ts";

/** One setting of the comparison; null is nats-server's own default (no sync_interval in any config). */
export type SyncSetting = SyncInterval | null;

/** The settings compared unless `--sync-settings` names others. */
export const DEFAULT_SYNC_SETTINGS: readonly SyncSetting[] = [null, "1s", "100ms", "always"];

/** What the comparison needs of one measured run (bench/run.ts `RunResult`). */
export interface SyncRun {
  throughput: number;
  saturated: boolean;
  drained: boolean;
  steady: PhaseStats;
  http: HttpLoadResult;
  cpuMsPerOrder: number;
  natsCpuMsPerOrder: number;
}

/** bench/run.ts's measuring helpers, handed in so this file repeats none of them. */
export interface SyncBenchDeps {
  quick: boolean;
  measureRun(
    sys: BenchSystem,
    opts: { label: string; rate: number; durationS: number; paced?: boolean; leadInS?: number; drainCapMs?: number },
  ): Promise<SyncRun>;
  warmUp(sys: BenchSystem, label: string): Promise<SyncRun>;
  capacityGuess(warm: SyncRun): number;
  say(line: string): void;
  fmt(n: number, digits?: number): string;
  jsonOut?: string;
  machine: Record<string, unknown>;
  startedMs: number;
}

export const settingLabel = (s: SyncSetting): string => (s === null ? "default (2m)" : s);

/**
 * `--sync-settings 1s,always`: the settings to compare besides the default, each checked the way npm
 * start checks NATS_SYNC_INTERVAL; the default is always first, as the base of every ratio.
 * @example parseSyncSettings("always,1s") // [null, "always", "1s"]
 */
export function parseSyncSettings(list: string | undefined): SyncSetting[] {
  if (list === undefined) return [...DEFAULT_SYNC_SETTINGS];
  const named = list
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s && s !== "default")
    .map((s) => syncIntervalFrom({ NATS_SYNC_INTERVAL: s }));
  return [null, ...new Set(named)];
}

/** The median of a non-empty list; NaN when empty. */
export function median(xs: readonly number[]): number {
  const finite = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return NaN;
  const mid = finite.length / 2;
  return finite.length % 2 ? finite[Math.floor(mid)]! : (finite[mid - 1]! + finite[mid]!) / 2;
}

interface SettingRuns {
  saturating: SyncRun[];
  at200: SyncRun[];
  /** One entry per round, undefined where that round's saturating run showed no room for 1,000/s. */
  at1000: (SyncRun | undefined)[];
}

/** The whole `--sync` comparison: starts the systems, runs the rounds, prints the table and the ratios. */
export async function syncIntervalComparison(deps: SyncBenchDeps, settings: readonly SyncSetting[]): Promise<void> {
  const { say, fmt } = deps;
  const rounds = deps.quick ? 1 : 3;
  const satS = deps.quick ? 4 : 8;
  const latS = deps.quick ? 4 : 6;
  const leadInS = deps.quick ? 1 : 1.5;
  const confDir = mkdtempSync(join(tmpdir(), "orderstream-bench-sync-"));
  const systems = new Map<SyncSetting, BenchSystem>();
  const runs = new Map<SyncSetting, SettingRuns>(settings.map((s) => [s, { saturating: [], at200: [], at1000: [] }]));
  try {
    for (const setting of settings) {
      const natsConfigFile = setting === null ? undefined : writeLocalNatsConfig(setting, undefined, join(confDir, `sync-${setting}.conf`));
      say(`starting nats-server (sync_interval ${settingLabel(setting)}) + 4 services`);
      systems.set(setting, await startBenchSystem({ label: `sync-${settingLabel(setting)}`, natsConfigFile }));
    }
    const guesses: number[] = [];
    for (const setting of settings) guesses.push(deps.capacityGuess(await deps.warmUp(systems.get(setting)!, settingLabel(setting))));
    // One offered rate for every setting in a round, so the ratios compare like with like: first the
    // median warm-up guess (one short batch each is noisy), then RETRY_OVERLOAD × the best the last
    // round completed — a backlog for every setting, not so deep that it measures a drain.
    let rate = Math.ceil(median(guesses));
    for (let round = 1; round <= rounds; round++) {
      // Rotated each round, so no setting always runs first (right after a quiet pause) or last.
      const order = settings.map((_, i) => settings[(i + round - 1) % settings.length]!);
      for (const setting of order) {
        const sys = systems.get(setting)!;
        const r = runs.get(setting)!;
        const tag = `round ${round}/${rounds}, ${settingLabel(setting)}`;
        const sat = await deps.measureRun(sys, {
          label: `${tag}, saturating (${fmt(rate)} orders/s offered, ${satS} s)`,
          rate,
          durationS: satS,
          paced: false,
          drainCapMs: 30_000,
        });
        r.saturating.push(sat);
        r.at200.push(
          await deps.measureRun(sys, {
            label: `${tag}, 200 orders/s (${latS} s)`,
            rate: 200,
            durationS: latS,
            leadInS,
            drainCapMs: 15_000,
          }),
        );
        // 1,000/s only where the saturating run showed room for it: past its capacity the run would measure a queue.
        r.at1000.push(
          sat.throughput >= 1_100
            ? await deps.measureRun(sys, {
                label: `${tag}, 1,000 orders/s (${latS} s)`,
                rate: 1_000,
                durationS: latS,
                leadInS,
                drainCapMs: 15_000,
              })
            : undefined,
        );
      }
      rate = Math.ceil(RETRY_OVERLOAD * Math.max(...settings.map((s) => runs.get(s)!.saturating.at(-1)!.throughput)));
    }
  } finally {
    await Promise.all([...systems.values()].map((sys) => sys.stop()));
    rmSync(confDir, { recursive: true, force: true });
  }
  printSyncResults(deps, settings, runs, rounds);
}

/** Offered load of a round's saturating runs, relative to the best the previous round completed. */
const RETRY_OVERLOAD = 1.3;

const p99 = (r: SyncRun): number => percentile(r.steady.latencies, 99);

function printSyncResults(
  deps: SyncBenchDeps,
  settings: readonly SyncSetting[],
  runs: Map<SyncSetting, SettingRuns>,
  rounds: number,
): void {
  const { fmt } = deps;
  const base = runs.get(null)!;
  /** Median over the rounds of (setting's figure / default's figure in the same round). */
  const ratio = (mine: (SyncRun | undefined)[], theirs: (SyncRun | undefined)[], figure: (r: SyncRun) => number) =>
    median(mine.map((r, i) => (r && theirs[i] ? figure(r) / figure(theirs[i]!) : NaN)));
  const perRound = (rs: (SyncRun | undefined)[], figure: (r: SyncRun) => number, digits = 0) =>
    rs.map((r) => (r ? fmt(figure(r), digits) : "—")).join(", ");
  const seconds = (performance.now() - deps.startedMs) / 1000;
  console.log(
    `\nResults (--sync${deps.quick ? " --quick" : ""}, ${fmt(seconds)} s, ${rounds} round(s); ratios are medians of per-round ratios to the default, same run):`,
  );
  console.log(
    "| sync_interval | orders/s per round | × default | CPU ms/order (nats-server) | p99 POST→SHIPPING_READY at 200/s | × default | at 1,000/s | × default | POST p99 at 200/s |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  const summary: Record<string, unknown> = {};
  for (const setting of settings) {
    const r = runs.get(setting)!;
    const row = {
      ordersPerSec: r.saturating.map((x) => x.throughput),
      throughputRatio: ratio(r.saturating, base.saturating, (x) => x.throughput),
      cpuMsPerOrder: median(r.saturating.map((x) => x.cpuMsPerOrder)),
      natsCpuMsPerOrder: median(r.saturating.map((x) => x.natsCpuMsPerOrder)),
      p99At200: r.at200.map(p99),
      p99At200Ratio: ratio(r.at200, base.at200, p99),
      p99At1000: r.at1000.map((x) => (x ? p99(x) : null)),
      p99At1000Ratio: ratio(r.at1000, base.at1000, p99),
      postP99At200: median(r.at200.map((x) => x.http.latency.p99)),
      notSaturated: r.saturating.filter((x) => !x.saturated).length,
    };
    summary[settingLabel(setting)] = row;
    console.log(
      `| ${settingLabel(setting)} | ${perRound(r.saturating, (x) => x.throughput)}${row.notSaturated ? ` (${row.notSaturated} kept up)` : ""} | ${fmt(row.throughputRatio, 2)} | ` +
        `${fmt(row.cpuMsPerOrder, 2)} (${fmt(row.natsCpuMsPerOrder, 2)}) | ${perRound(r.at200, p99, 1)} ms | ${fmt(row.p99At200Ratio, 2)} | ` +
        `${r.at1000.some(Boolean) ? `${perRound(r.at1000, p99, 1)} ms` : "not reached"} | ${fmt(row.p99At1000Ratio, 2)} | ${fmt(row.postP99At200, 1)} ms |`,
    );
  }
  console.log(
    "\n(kept up: a saturating run that completed what it was offered — its rate is not a capacity; — at 1,000/s: that round's saturating run " +
      "completed under 1,100 orders/s, so 1,000/s was not offered. CPU ms/order is the services' and nats-server's, median over the rounds.)",
  );
  if (deps.jsonOut) {
    writeFileSync(
      deps.jsonOut,
      JSON.stringify(
        {
          machine: deps.machine,
          quick: deps.quick,
          syncInterval: { summary, runs: Object.fromEntries([...runs].map(([k, v]) => [settingLabel(k), v])) },
        },
        (k, v) => (k === "latencies" ? undefined : v),
        2,
      ),
    );
  }
}
