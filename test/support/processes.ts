// Spawning orderstream services (scripts/service.ts) as real child processes for tests.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort } from "../../scripts/nats-binary.ts";

export type { ServiceName } from "../../nats/subjects.ts";
import type { ServiceName } from "../../nats/subjects.ts";

export interface ServiceProcess {
  name: string;
  port: number;
  pid: number;
  /** http://127.0.0.1:<port> */
  baseUrl: string;
  /** Last ≤500 lines of stdout+stderr, interleaved in arrival order. */
  output(): string;
  /** Send `signal` (default SIGTERM), wait up to timeoutMs (default 10 s), then SIGKILL. Resolves the exit code (null when ended by a signal). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

export interface StartServiceOptions {
  /** Script to run instead of scripts/service.ts (relative to repo root or absolute). For harness self-tests. */
  entry?: string;
  /** Arguments after the entry; default [name]. */
  args?: string[];
  /** Readiness timeout, default 20 000 ms. */
  readyTimeoutMs?: number;
  /**
   * Executable and its arguments to spawn instead of `node --import tsx <entry> <args>` (e.g. a
   * Deno entry: `[deno, "run", "-A", "services/order/main.deno.ts"]`); `entry`/`args` are then ignored.
   */
  command?: [string, ...string[]];
}

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

const OUTPUT_LINES = 500;
const READY_POLL_MS = 100;
const DEFAULT_READY_TIMEOUT_MS = 20_000;

// ---- leak protection -------------------------------------------------------
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of liveChildren) {
      try {
        child.kill("SIGKILL");
      } catch {
        /* already gone */
      }
    }
    liveChildren.clear();
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Environment for a child: ours minus inherited NATS_* / OTEL_* / VICTORIA_LOGS_* / JAEGER_QUERY_URL
 * (a developer's shell must not point test services at real servers), tracing export off unless
 * asked, then `env`.
 */
export function childEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (k.startsWith("NATS_") || k.startsWith("OTEL_") || k.startsWith("VICTORIA_LOGS_") || k === "JAEGER_QUERY_URL") continue;
    out[k] = v;
  }
  out.OTEL_TRACES_EXPORTER = "none";
  // Tests and the bench only ever use loopback: a service under test is not reachable from outside.
  out.HOST = "127.0.0.1";
  return Object.assign(out, env);
}

export async function startService(
  name: ServiceName,
  env: Record<string, string>,
  opts: StartServiceOptions = {},
): Promise<ServiceProcess> {
  installExitHook();
  const port = env.PORT !== undefined && env.PORT !== "" ? Number(env.PORT) : await freePort();
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`startService(${name}): invalid PORT ${env.PORT}`);
  const fullEnv = childEnv({ ...env, PORT: String(port) });
  const entry = opts.entry ?? "scripts/service.ts";
  const [executable, ...args] = opts.command ?? [process.execPath, "--import", "tsx", entry, ...(opts.args ?? [name])];

  const lines: string[] = [];
  const partial: Record<"out" | "err", string> = { out: "", err: "" };
  const pushLine = (line: string) => {
    lines.push(line);
    if (lines.length > OUTPUT_LINES) lines.splice(0, lines.length - OUTPUT_LINES);
  };
  const feed = (key: "out" | "err", chunk: string) => {
    const parts = (partial[key] + chunk).split(/\r?\n/);
    partial[key] = parts.pop() ?? "";
    for (const l of parts) pushLine(key === "err" ? `[stderr] ${l}` : l);
  };
  const flush = () => {
    for (const key of ["out", "err"] as const) {
      if (partial[key]) pushLine(key === "err" ? `[stderr] ${partial[key]}` : partial[key]);
      partial[key] = "";
    }
  };
  const output = () => lines.join("\n");
  const tail = (n = 60) => lines.slice(-n).join("\n");

  const child = spawn(executable, args, {
    cwd: REPO_ROOT,
    env: fullEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      exitInfo = { code, signal };
      liveChildren.delete(child);
      flush();
      resolve(exitInfo);
    });
  });
  // An 'error' without 'exit' (spawn failure) must still settle `exited`.
  void spawnError.then((err) => {
    pushLine(`[harness] spawn error: ${err.message}`);
    if (!exitInfo) {
      exitInfo = { code: null, signal: null };
      liveChildren.delete(child);
    }
  });
  if (child.pid !== undefined) liveChildren.add(child);
  child.stdout!.setEncoding("utf8").on("data", (c: string) => feed("out", c));
  child.stderr!.setEncoding("utf8").on("data", (c: string) => feed("err", c));

  const waitExit = async (timeoutMs: number): Promise<boolean> => {
    if (exitInfo) return true;
    let timer: NodeJS.Timeout | undefined;
    const ok = await Promise.race([
      exited.then(() => true),
      spawnError.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return ok;
  };

  const baseUrl = `http://127.0.0.1:${port}`;
  const readyTimeout = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const deadline = Date.now() + readyTimeout;
  let lastProbe = "no probe yet";
  for (;;) {
    if (exitInfo) {
      throw new Error(
        `service ${name} exited before becoming ready (code=${exitInfo.code}, signal=${exitInfo.signal}). Output tail:\n${tail()}`,
      );
    }
    try {
      const res = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status === 200) break;
      lastProbe = `GET /readyz -> ${res.status}`;
    } catch (err) {
      lastProbe = `GET /readyz failed: ${(err as Error).message}`;
    }
    if (Date.now() >= deadline) {
      child.kill("SIGKILL");
      await waitExit(2000);
      throw new Error(
        `service ${name} not ready on ${baseUrl} after ${readyTimeout} ms (last probe: ${lastProbe}). Output tail:\n${tail()}`,
      );
    }
    await sleep(READY_POLL_MS);
  }

  return {
    name,
    port,
    pid: child.pid!,
    baseUrl,
    output,
    async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 10_000) {
      if (!exitInfo) {
        child.kill(signal);
        if (!(await waitExit(timeoutMs))) {
          pushLine(`[harness] ${name} did not exit ${timeoutMs} ms after ${signal}; sending SIGKILL`);
          child.kill("SIGKILL");
          await waitExit(5000);
        }
      }
      return exitInfo?.code ?? null;
    },
    async kill() {
      if (exitInfo) return;
      child.kill("SIGKILL");
      await waitExit(5000);
    },
  };
}

/**
 * Poll `fn` (sync or async) until it returns something other than undefined/null/false (errors
 * count as "not yet"). Throws `Timed out after N ms waiting for <what>` including the last error.
 */
export async function waitUntil<T>(
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 100;
  const what = opts.what ?? "condition";
  const started = Date.now();
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined && value !== null && value !== false) return value as T;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() - started >= timeoutMs) {
      const suffix = lastError === undefined ? "" : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${suffix}`);
    }
    await sleep(intervalMs);
  }
}
