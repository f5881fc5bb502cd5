/**
 * The raw limit as the NATS project measures it: `nats bench` (natscli, built from the Go module
 * proxy like the server) against the same nats-server as the bench's own raw runs — JetStream async
 * publish of the order events' size to a file stream, then an ordered consumer reading it back.
 */
import { execFile } from "node:child_process";
import { findNatsCli, NATS_CLI_INSTALL_HINT } from "../scripts/nats-binary.ts";

export interface NatsBenchResult {
  cli: string;
  /** `nats bench js pub async`: messages/s, the median of PUBLISH_RUNS runs */
  publishPerSec: number;
  /** Each run's messages/s: one short run moves by ±30 % on a busy 2-core machine */
  publishRuns: number[];
  /** `nats bench js ordered`: messages/s */
  orderedReadPerSec: number;
  commands: string[];
}

function run(cli: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cli, args, { timeout: 120_000, maxBuffer: 4 * 2 ** 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`nats ${args.join(" ")} failed: ${err.message}\n${stderr}`)) : resolve(`${stdout}\n${stderr}`),
    ),
  );
}

/** The `… stats: 91,742 msgs/sec` figure of a `nats bench` report. */
export function msgsPerSec(report: string): number {
  const m = /stats: ([\d,]+) msgs\/sec/.exec(report);
  if (!m) throw new Error(`no "msgs/sec" figure in the nats bench report:\n${report}`);
  return Number(m[1]!.replaceAll(",", ""));
}

/** Runs of `js pub async`, each on a purged stream; the median is the figure. */
const PUBLISH_RUNS = 3;

/** Runs both benches against `url` with `messages` messages of `size` bytes. */
export async function natsBench(url: string, messages: number, size: number): Promise<NatsBenchResult> {
  const cli = findNatsCli();
  if (!cli) throw new Error(NATS_CLI_INSTALL_HINT);
  const common = ["-s", url, "--msgs", String(messages), "--no-progress", "--stream", "NATSBENCH"];
  const pub = ["bench", "js", "pub", "async", "natsbench.orders", ...common, "--size", String(size), "--create", "--storage", "file"];
  const read = ["bench", "js", "ordered", ...common];
  const publishRuns: number[] = [];
  for (let i = 0; i < PUBLISH_RUNS; i++) publishRuns.push(msgsPerSec(await run(cli, i === 0 ? pub : [...pub, "--purge"])));
  const publishPerSec = [...publishRuns].sort((a, b) => a - b)[Math.floor(PUBLISH_RUNS / 2)]!;
  // The stream holds exactly `messages` for the read (each publish run purged it first).
  const orderedReadPerSec = msgsPerSec(await run(cli, read));
  return { cli, publishPerSec, publishRuns, orderedReadPerSec, commands: [pub, read].map((a) => `nats ${a.join(" ")}`) };
}
