/**
 * Jaeger v2 (in-memory storage, OTLP/HTTP receiver, query API) and VictoriaLogs as local processes:
 * finding the binaries, Jaeger's configuration, starting both on given or free loopback ports and
 * waiting until they answer. `npm start` (scripts/start.ts), the tests (test/support/observability.ts)
 * and the bench use it. Node-only helper, like nats-binary.ts.
 *
 * Both servers are built from the Go module proxy when they are missing (scripts/tools.ts):
 * Jaeger's module v1.75.0 is the Jaeger v2.12.0 backend. A Jaeger built that way has no UI assets:
 * its page on the query port is a placeholder, while the query API (`/api/v3/traces/{id}`, what the
 * CLI, the order API and the order page read) works in full.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canConnect, executableCandidates, freePort } from "./nats-binary.ts";
import { dyingWithParent } from "./supervise.ts";
import { JAEGER_MODULE_VERSION, VICTORIA_LOGS_VERSION } from "./versions.ts";

export { JAEGER_MODULE_VERSION, VICTORIA_LOGS_VERSION };

export const JAEGER_INSTALL_HINT =
  "no `jaeger` binary found (looked at JAEGER_BIN, GOBIN, ~/go/bin and the PATH). Build Jaeger v2 from the Go module proxy: " +
  '`cd "$(mktemp -d)" && go mod init jaeger-build && go get -tool github.com/jaegertracing/jaeger/cmd/jaeger@' +
  JAEGER_MODULE_VERSION +
  ' && go build -o "$(go env GOPATH)/bin/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger`; npm start and npm test build it themselves when Go is on the PATH.';

export const VICTORIA_LOGS_INSTALL_HINT =
  "no `victoria-logs` binary found (looked at VICTORIA_LOGS_BIN, GOBIN, ~/go/bin and the PATH). Build it from the Go module proxy (cgo: needs gcc): " +
  "`go install github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@" +
  VICTORIA_LOGS_VERSION +
  "`; npm start and npm test build it themselves when Go is on the PATH.";

/** Default ports, as the upstream images use them: the CLI's defaults match them. */
export const DEFAULT_JAEGER_PORTS: JaegerPorts = { otlpHttp: 4318, queryHttp: 16686, queryGrpc: 16685 };
export const DEFAULT_VICTORIA_LOGS_PORT = 9428;

/** Absolute path of `jaeger`: JAEGER_BIN, GOBIN, GOPATH/bin, ~/go/bin, then the PATH; null when there is none. */
export function findJaeger(env: Record<string, string | undefined> = process.env): string | null {
  return executableCandidates(process.platform === "win32" ? "jaeger.exe" : "jaeger", "JAEGER_BIN", [], env)[0] ?? null;
}

/** Absolute path of `victoria-logs`: VICTORIA_LOGS_BIN, GOBIN, GOPATH/bin, ~/go/bin, then the PATH; null when there is none. */
export function findVictoriaLogs(env: Record<string, string | undefined> = process.env): string | null {
  return (
    executableCandidates(process.platform === "win32" ? "victoria-logs.exe" : "victoria-logs", "VICTORIA_LOGS_BIN", [], env)[0] ?? null
  );
}

export interface JaegerPorts {
  /** OTLP/HTTP receiver: the services export to `http://host:<port>/v1/traces`. */
  otlpHttp: number;
  /** Query API and UI. */
  queryHttp: number;
  /** Query gRPC API (not used here, but the extension always listens; given a port so it never collides). */
  queryGrpc: number;
}

/**
 * Jaeger v2's configuration (an OpenTelemetry Collector config): the OTLP/HTTP receiver only (no
 * gRPC, Jaeger or Zipkin receivers), in-memory storage, the query extension on the given ports,
 * no health, metrics or self-tracing listeners — so several can run side by side on free ports.
 * The store keeps the last `maxTraces` traces (10,000 orders' worth, ~100 MB at most: a load test
 * against `npm start` must not grow it without bound; the upstream example keeps 100,000).
 */
export function jaegerConfig(ports: JaegerPorts, host = "127.0.0.1", maxTraces = 10_000): string {
  return `# Written by scripts/observability.ts: Jaeger v2, in-memory, OTLP/HTTP in, query API out.
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: ${maxTraces}
  jaeger_query:
    storage:
      traces: memstore
    enable_tracing: false
    http:
      endpoint: ${host}:${ports.queryHttp}
    grpc:
      endpoint: ${host}:${ports.queryGrpc}
receivers:
  otlp:
    protocols:
      http:
        endpoint: ${host}:${ports.otlpHttp}
processors:
  batch:
    # Spans are searchable a moment after they arrive (the default waits up to 200 ms too).
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}

/** A server process started here. */
export interface ManagedProcess {
  binary: string;
  readonly pid: number;
  /** Last ~200 lines of its stdout and stderr. */
  logs(): string;
  /** True once it has exited. */
  exited(): boolean;
  /** Called once when it exits (not when `stop()` ends it). */
  onUnexpectedExit(handler: (code: number | null, signal: NodeJS.Signals | null) => void): void;
  /** SIGTERM, SIGKILL after 5 s; resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

export interface JaegerProcess extends ManagedProcess {
  ports: JaegerPorts;
  /** `http://127.0.0.1:<queryHttp>`: JAEGER_QUERY_URL. */
  queryUrl: string;
  /** `http://127.0.0.1:<otlpHttp>`: OTEL_EXPORTER_OTLP_ENDPOINT. */
  otlpUrl: string;
}

export interface VictoriaLogsProcess extends ManagedProcess {
  port: number;
  /** `http://127.0.0.1:<port>`: VICTORIA_LOGS_URL. */
  url: string;
}

interface StartCommon {
  binary?: string;
  /** Its own process group (npm start: Ctrl-C must not stop it before the services have drained). */
  detached?: boolean;
  readyTimeoutMs?: number;
  /** Gets SIGTERM when this process dies, even of SIGKILL (scripts/supervise.ts): npm start's servers. */
  dieWithParent?: boolean;
}

const READY_TIMEOUT_MS = 20_000;
const STOP_GRACE_MS = 5_000;
const LOG_LINES = 200;

// Killed if the process that started them exits without stopping them.
const live = new Set<ChildProcess>();
let exitHook = false;
function track(child: ChildProcess): void {
  if (!exitHook) {
    exitHook = true;
    process.on("exit", () => {
      for (const c of live) {
        try {
          c.kill("SIGKILL");
        } catch {
          /* already gone */
        }
      }
    });
  }
  live.add(child);
  child.once("exit", () => live.delete(child));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function answers(url: string, ok: (status: number, body: string) => boolean): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    return ok(res.status, await res.text());
  } catch {
    return false;
  }
}

/**
 * Spawns `binary args`, keeps its output, and waits until `ready()`; throws with the output's tail
 * when it exits first (`addrInUse` set when it said so) or does not get ready in time.
 */
async function launch(
  name: string,
  binary: string,
  args: string[],
  opts: StartCommon,
  ready: () => Promise<boolean>,
  cleanup: () => void,
): Promise<ManagedProcess> {
  const lines: string[] = [];
  const push = (chunk: string) => {
    for (const line of chunk.split(/\r?\n/)) if (line) lines.push(line);
    if (lines.length > LOG_LINES) lines.splice(0, lines.length - LOG_LINES);
  };
  const [command, argv] = opts.dieWithParent ? dyingWithParent(binary, args) : [binary, args];
  const child = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"], detached: opts.detached ?? false });
  track(child);
  child.stdout!.setEncoding("utf8").on("data", push);
  child.stderr!.setEncoding("utf8").on("data", push);
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let stopping = false;
  const exitHandlers: ((code: number | null, signal: NodeJS.Signals | null) => void)[] = [];
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exit = { code, signal };
      cleanup();
      if (!stopping) for (const h of exitHandlers) h(code, signal);
      resolve();
    });
    child.once("error", (err) => {
      push(`[spawn error] ${err.message}`);
      if (!exit) {
        exit = { code: null, signal: null };
        cleanup();
        resolve();
      }
    });
  });
  const stop = async () => {
    stopping = true;
    if (exit) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + (opts.readyTimeoutMs ?? READY_TIMEOUT_MS);
  for (;;) {
    if (exit) {
      const error = new Error(
        `${name} (${binary}) exited before it was ready (code ${exit.code}, signal ${exit.signal}):\n${lines.slice(-30).join("\n")}`,
      );
      (error as Error & { addrInUse?: boolean }).addrInUse = lines.some((l) => /address already in use/i.test(l));
      throw error;
    }
    if (await ready()) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `${name} (${binary}) did not answer within ${opts.readyTimeoutMs ?? READY_TIMEOUT_MS} ms:\n${lines.slice(-30).join("\n")}`,
      );
    }
    await sleep(50);
  }
  return {
    binary,
    pid: child.pid!,
    logs: () => lines.join("\n"),
    exited: () => exit !== undefined,
    onUnexpectedExit: (handler) => void exitHandlers.push(handler),
    stop,
  };
}

/** Tries `attempt` again with fresh ports when a port it was given by us was taken meanwhile. */
async function withPortRetries<T>(portsAreOurs: boolean, attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      if (!portsAreOurs || tries >= 4 || !(err as { addrInUse?: boolean }).addrInUse) throw err;
    }
  }
}

/**
 * Starts Jaeger v2 with {@link jaegerConfig}: fixed ports where given, free loopback ports for the
 * rest; resolves once the query API answers and the OTLP port accepts connections.
 */
export async function startJaeger(opts: StartCommon & { ports?: Partial<JaegerPorts> } = {}): Promise<JaegerProcess> {
  const binary = opts.binary ?? findJaeger();
  if (!binary) throw new Error(`cannot start Jaeger: ${JAEGER_INSTALL_HINT}`);
  const fixed = opts.ports ?? {};
  const allFixed = fixed.otlpHttp !== undefined && fixed.queryHttp !== undefined && fixed.queryGrpc !== undefined;
  return withPortRetries(!allFixed, async () => {
    const ports: JaegerPorts = {
      otlpHttp: fixed.otlpHttp ?? (await freePort()),
      queryHttp: fixed.queryHttp ?? (await freePort()),
      queryGrpc: fixed.queryGrpc ?? (await freePort()),
    };
    const dir = mkdtempSync(join(tmpdir(), "orderstream-jaeger-"));
    const config = join(dir, "config.yaml");
    writeFileSync(config, jaegerConfig(ports));
    const queryUrl = `http://127.0.0.1:${ports.queryHttp}`;
    const proc = await launch(
      "jaeger",
      binary,
      ["--config", `file:${config}`],
      opts,
      async () => (await answers(`${queryUrl}/api/services`, (status) => status === 200)) && (await canConnect(ports.otlpHttp)),
      () => rmSync(dir, { recursive: true, force: true }),
    );
    return { ...proc, ports, queryUrl, otlpUrl: `http://127.0.0.1:${ports.otlpHttp}` };
  });
}

/**
 * Starts VictoriaLogs on `port` (or a free loopback port) with its data in `dataDir` (created if
 * missing); resolves once `/health` answers OK.
 */
export async function startVictoriaLogs(opts: StartCommon & { port?: number; dataDir: string }): Promise<VictoriaLogsProcess> {
  const binary = opts.binary ?? findVictoriaLogs();
  if (!binary) throw new Error(`cannot start VictoriaLogs: ${VICTORIA_LOGS_INSTALL_HINT}`);
  mkdirSync(opts.dataDir, { recursive: true });
  return withPortRetries(opts.port === undefined, async () => {
    const port = opts.port ?? (await freePort());
    const url = `http://127.0.0.1:${port}`;
    const args = [`-httpListenAddr=127.0.0.1:${port}`, `-storageDataPath=${opts.dataDir}`, "-loggerLevel=WARN"];
    const proc = await launch(
      "victoria-logs",
      binary,
      args,
      opts,
      () => answers(`${url}/health`, (status, body) => status === 200 && body.trim() === "OK"),
      () => {},
    );
    return { ...proc, port, url };
  });
}
