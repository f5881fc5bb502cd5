// Disposable nats-server processes for tests: random port, private JetStream store,
// restart with the same port + store, and no leaks even when a test crashes.
import { spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { canConnect, findNatsServer, freePort, isPortFree, NATS_INSTALL_HINT } from "../../scripts/nats-binary.ts";

export interface StartNatsServerOptions {
  /** Pass `-js` and wait for JetStream to come up. Default true. */
  jetstream?: boolean;
  /** Passed as `-c <file>`; command-line flags (-a/-p/-js/-sd) still win. Must not set log_file (we read stderr). */
  configFile?: string;
  /** Extra command-line arguments, appended last. */
  args?: string[];
  /** JetStream store dir to use (e.g. to reuse one across servers). Not removed by stop(). Default: fresh temp dir, removed by stop(). */
  storeDir?: string;
  /** Fixed port. Default: a free port picked at start. */
  port?: number;
  /** The nats-server binary to run. Default: the current one findNatsServer finds. */
  binary?: string;
  /** Added to the server's environment (a config's `$VARIABLE`s, e.g. the auth config's passwords). */
  env?: Record<string, string>;
  /**
   * Also listen for WebSocket clients (plain `ws`, no TLS) on a free loopback port, kept across
   * restarts; the handle's `wsUrl` names it. Works together with `configFile` (included).
   */
  websocket?: boolean;
}

export interface NatsServerHandle {
  /** nats://127.0.0.1:<port> */
  url: string;
  port: number;
  /** ws://127.0.0.1:<port> of the WebSocket listener, when started with `websocket: true`. */
  wsUrl?: string;
  storeDir: string;
  /** PID of the current process (changes after restart()). */
  readonly pid: number;
  /** SIGTERM, wait for exit (SIGKILL after 5 s), then remove the temp store dir (unless the caller supplied storeDir). Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit; keeps the store so restart() can simulate crash recovery. */
  kill(): Promise<void>;
  /** Graceful stop (if running) keeping the store, then start again on the same port and storeDir. Returns this same (updated) handle. */
  restart(): Promise<NatsServerHandle>;
  /** Last ~200 log lines (across restarts). */
  logs(): string;
}

const READY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
const LOG_LINES = 200;

// ---- leak protection -------------------------------------------------------
const liveProcesses = new Set<ChildProcess>();
const ownedTempDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of liveProcesses) {
      try {
        child.kill("SIGKILL");
      } catch {
        /* already gone */
      }
    }
    liveProcesses.clear();
    for (const dir of ownedTempDirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
    ownedTempDirs.clear();
  });
}

// ---- helpers ---------------------------------------------------------------
interface Launch {
  child: ChildProcess;
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited: boolean;
  sawReady: boolean;
  sawJetStream: boolean;
  sawAddrInUse: boolean;
}

class LogRing {
  private lines: string[] = [];
  private partial = new Map<string, string>();
  constructor(private readonly max: number) {}
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
  }
  /** Feed a chunk from stream `key`; calls onLine for each complete line. */
  feed(key: string, chunk: string, onLine: (line: string) => void): void {
    const text = (this.partial.get(key) ?? "") + chunk;
    const parts = text.split(/\r?\n/);
    this.partial.set(key, parts.pop() ?? "");
    for (const line of parts) {
      this.push(line);
      onLine(line);
    }
  }
  flush(key: string, onLine: (line: string) => void): void {
    const rest = this.partial.get(key);
    if (rest) {
      this.push(rest);
      onLine(rest);
    }
    this.partial.delete(key);
  }
  text(): string {
    return this.lines.join("\n");
  }
  tail(n: number): string {
    return this.lines.slice(-n).join("\n");
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitForExit(launch: Launch, timeoutMs: number): Promise<boolean> {
  if (launch.hasExited) return true;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((r) => {
    timer = setTimeout(() => r(false), timeoutMs);
  });
  const result = await Promise.race([launch.exited.then(() => true as const), timedOut]);
  clearTimeout(timer);
  return result;
}

// ---- main ------------------------------------------------------------------
export async function startNatsServer(opts: StartNatsServerOptions = {}): Promise<NatsServerHandle> {
  const bin = opts.binary ?? findNatsServer();
  if (!bin) throw new Error(`Cannot start a test NATS server. ${NATS_INSTALL_HINT}`);
  installExitHook();

  const jetstream = opts.jetstream ?? true;
  const ownsStoreDir = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? (await mkdtemp(join(tmpdir(), "orderstream-nats-")));
  if (ownsStoreDir) ownedTempDirs.add(storeDir);
  else await mkdir(storeDir, { recursive: true });

  const log = new LogRing(LOG_LINES);
  let port = opts.port ?? (await freePort());
  // nats-server 2.15 has no command-line flag for the websocket block: a config file in a temp dir
  // of its own holds it, including the caller's config by a relative path (`include` resolves
  // every path against the including file's directory).
  let configFile = opts.configFile;
  let wsPort: number | undefined;
  let confDir: string | undefined;
  const removeConfDir = async () => {
    if (confDir === undefined) return;
    ownedTempDirs.delete(confDir);
    await rm(confDir, { recursive: true, force: true });
  };
  const writeWebsocketConf = async (listenPort: number) => {
    confDir = await mkdtemp(join(tmpdir(), "orderstream-nats-ws-"));
    ownedTempDirs.add(confDir);
    configFile = join(confDir, "websocket.conf");
    const include = opts.configFile ? `include ${JSON.stringify(relative(confDir, resolve(opts.configFile)))}\n` : "";
    await writeFile(configFile, `${include}websocket {\n  listen: "127.0.0.1:${listenPort}"\n  no_tls: true\n}\n`);
  };
  if (opts.websocket) {
    wsPort = await freePort();
    await writeWebsocketConf(wsPort);
  }
  let current: Launch | undefined;
  let stopped = false;

  const buildArgs = (p: number): string[] => {
    const args = ["-a", "127.0.0.1", "-p", String(p)];
    if (jetstream) args.push("-js");
    args.push("-sd", storeDir);
    if (configFile) args.push("-c", configFile);
    if (opts.args) args.push(...opts.args);
    return args;
  };

  const spawnOnce = (p: number): Launch => {
    const child = spawn(bin, buildArgs(p), { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...opts.env } });
    if (child.pid === undefined) {
      throw new Error(`failed to spawn ${bin}`);
    }
    liveProcesses.add(child);
    const launch: Launch = {
      child,
      pid: child.pid,
      hasExited: false,
      sawReady: false,
      sawJetStream: false,
      sawAddrInUse: false,
      exited: new Promise((resolve) => {
        child.once("exit", (code, signal) => {
          launch.hasExited = true;
          liveProcesses.delete(child);
          log.flush("out", onLine);
          log.flush("err", onLine);
          log.push(`[harness] nats-server pid ${child.pid} exited (code=${code}, signal=${signal})`);
          resolve({ code, signal });
        });
      }),
    };
    const onLine = (line: string) => {
      if (/Server is ready/.test(line)) launch.sawReady = true;
      if (/Starting JetStream/.test(line)) launch.sawJetStream = true;
      if (/address already in use/i.test(line)) launch.sawAddrInUse = true;
    };
    child.stdout!.setEncoding("utf8").on("data", (c: string) => log.feed("out", c, onLine));
    child.stderr!.setEncoding("utf8").on("data", (c: string) => log.feed("err", c, onLine));
    child.once("error", (err) => log.push(`[harness] spawn error: ${err.message}`));
    return launch;
  };

  /** Spawn and wait until ready; retries with a new port on EADDRINUSE when the port is ours to choose. */
  const launchReady = async (portIsFixed: boolean, isRestart: boolean): Promise<void> => {
    if (portIsFixed) {
      // After a restart the old socket may linger for a moment; a fresh start on a busy port fails fast
      // (and must never end up talking to whatever else listens there, e.g. the shared server on 4222).
      const busyDeadline = Date.now() + (isRestart ? 3000 : 0);
      while (!(await isPortFree(port))) {
        if (Date.now() >= busyDeadline) {
          throw new Error(
            `cannot start nats-server: 127.0.0.1:${port} is already in use${isRestart ? " (still busy 3 s after restart)" : ""}`,
          );
        }
        await sleep(50);
      }
    }
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (let attempt = 0; ; attempt++) {
      const launch = spawnOnce(port);
      current = launch;
      for (;;) {
        if (launch.hasExited) break;
        const logOk = launch.sawReady && (!jetstream || launch.sawJetStream);
        if (logOk && (await canConnect(port))) return;
        if (Date.now() > deadline) {
          launch.child.kill("SIGKILL");
          await waitForExit(launch, 2000);
          throw new Error(
            `nats-server on port ${port} not ready after ${READY_TIMEOUT_MS} ms ` +
              `(tcp+${jetstream ? "JetStream" : "ready"} log line). Log tail:\n${log.tail(40)}`,
          );
        }
        await sleep(25);
      }
      await launch.exited;
      if (launch.sawAddrInUse && !portIsFixed && attempt < 5 && Date.now() < deadline) {
        log.push(`[harness] port ${port} was taken, retrying with another port`);
        port = await freePort();
        continue;
      }
      throw new Error(`nats-server exited during startup (port ${port}). Log tail:\n${log.tail(40)}`);
    }
  };

  const terminate = async (): Promise<void> => {
    const launch = current;
    if (!launch || launch.hasExited) return;
    launch.child.kill("SIGTERM");
    if (!(await waitForExit(launch, STOP_GRACE_MS))) {
      log.push(`[harness] nats-server pid ${launch.pid} ignored SIGTERM for ${STOP_GRACE_MS} ms, sending SIGKILL`);
      launch.child.kill("SIGKILL");
      await launch.exited;
    }
  };

  await launchReady(opts.port !== undefined, false).catch(async (err) => {
    await removeConfDir();
    if (ownsStoreDir) {
      ownedTempDirs.delete(storeDir);
      await rm(storeDir, { recursive: true, force: true });
    }
    throw err;
  });

  const handle: NatsServerHandle = {
    url: `nats://127.0.0.1:${port}`,
    port,
    wsUrl: wsPort === undefined ? undefined : `ws://127.0.0.1:${wsPort}`,
    storeDir,
    get pid() {
      return current!.pid;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await terminate();
      await removeConfDir();
      if (ownsStoreDir) {
        ownedTempDirs.delete(storeDir);
        await rm(storeDir, { recursive: true, force: true });
      }
    },
    async kill() {
      const launch = current;
      if (!launch || launch.hasExited) return;
      launch.child.kill("SIGKILL");
      await launch.exited;
    },
    async restart() {
      await terminate();
      if (stopped) {
        // stop() already removed a temp store; come back with an empty one.
        stopped = false;
        await mkdir(storeDir, { recursive: true });
        if (ownsStoreDir) ownedTempDirs.add(storeDir);
        if (wsPort !== undefined) await writeWebsocketConf(wsPort);
      }
      log.push(`[harness] ---- restarting nats-server on port ${port} ----`);
      await launchReady(true, true);
      return handle;
    },
    logs() {
      return log.text();
    },
  };
  return handle;
}
