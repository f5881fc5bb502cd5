// A real Prometheus for tests: its own loopback port, temp config and TSDB dir, killed afterwards.
// Plus promtool, for config and exposition-format checks.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { freePort } from "../../scripts/nats-binary.ts";
import { waitUntil } from "./processes.ts";

export const PROMETHEUS_INSTALL_HINT =
  "Prometheus is not installed (prometheus and promtool are needed): run `apt-get install -y prometheus` as root, as .ci/run does.";

/** The absolute path of an executable on PATH (or /usr/bin), or null. */
export function findBinary(name: string): string | null {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), "/usr/bin", "/usr/local/bin"];
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      /* not here */
    }
  }
  return null;
}

function requireBinary(name: "prometheus" | "promtool"): string {
  const path = findBinary(name);
  if (!path) throw new Error(`${name} not found. ${PROMETHEUS_INSTALL_HINT}`);
  return path;
}

/** Runs promtool (bounded to 30 s); `input` goes to its stdin. */
export function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const run = spawnSync(requireBinary("promtool"), args, { input, encoding: "utf8", timeout: 30_000 });
  if (run.error) throw run.error;
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export interface PrometheusHandle {
  url: string;
  /** Instant query through /api/v1/query; a vector result as numbers. */
  query(promql: string): Promise<PromSample[]>;
  /** The active scrape targets with their health. */
  targets(): Promise<{ job: string; url: string; health: string; lastError: string }[]>;
  output(): string;
  stop(): Promise<void>;
}

export interface StartPrometheusOptions {
  /** Scrape targets (host:port) by job name; scraped at /metrics. */
  jobs: Record<string, string[]>;
  scrapeIntervalSeconds?: number;
  readyTimeoutMs?: number;
  /** Rule files (absolute paths) to load, evaluated every scrape interval. */
  ruleFiles?: string[];
}

const live = new Set<ChildProcess>();
let hooked = false;

export async function startPrometheus(opts: StartPrometheusOptions): Promise<PrometheusHandle> {
  const binary = requireBinary("prometheus");
  if (!hooked) {
    hooked = true;
    process.on("exit", () => {
      for (const child of live) child.kill("SIGKILL");
    });
  }
  const interval = `${opts.scrapeIntervalSeconds ?? 1}s`;
  const dir = mkdtempSync(join(tmpdir(), "orderstream-prometheus-"));
  const config = [
    "global:",
    `  scrape_interval: ${interval}`,
    `  scrape_timeout: ${interval}`,
    `  evaluation_interval: ${interval}`,
    ...(opts.ruleFiles?.length ? ["rule_files:", ...opts.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`)] : []),
    "scrape_configs:",
    ...Object.entries(opts.jobs).flatMap(([job, targets]) => [
      `  - job_name: ${JSON.stringify(job)}`,
      "    static_configs:",
      `      - targets: ${JSON.stringify(targets)}`,
    ]),
    "",
  ].join("\n");
  writeFileSync(join(dir, "prometheus.yml"), config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    binary,
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  live.add(child);
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      live.delete(child);
      resolve();
    }),
  );

  const stop = async () => {
    if (!exited) {
      child.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        exit.then(() => false),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(true), 10_000))),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        child.kill("SIGKILL");
        await exit;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitUntil(
      async () => {
        if (exited) throw new Error(`prometheus exited: ${lines.slice(-20).join("\n")}`);
        const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        return res.ok;
      },
      { timeoutMs: opts.readyTimeoutMs ?? 30_000, intervalMs: 200, what: `prometheus ready on ${url}` },
    );
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${lines.slice(-20).join("\n")}`);
  }

  return {
    url,
    async query(promql) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(5_000) });
      const body = (await res.json()) as {
        status: string;
        error?: string;
        data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      if (body.status !== "success" || !body.data) throw new Error(`query ${promql} failed: ${body.error ?? res.status}`);
      if (body.data.resultType !== "vector") throw new Error(`query ${promql} returned a ${body.data.resultType}, not a vector`);
      return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    async targets() {
      const res = await fetch(`${url}/api/v1/targets?state=active`, { signal: AbortSignal.timeout(5_000) });
      const body = (await res.json()) as {
        data: { activeTargets: { labels: Record<string, string>; scrapeUrl: string; health: string; lastError: string }[] };
      };
      return body.data.activeTargets.map((t) => ({ job: t.labels.job ?? "", url: t.scrapeUrl, health: t.health, lastError: t.lastError }));
    },
    output: () => lines.join("\n"),
    stop,
  };
}
