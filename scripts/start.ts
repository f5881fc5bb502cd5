/**
 * `npm start`: the whole system on one machine, each service its own process (`-- --with loyalty`
 * adds an opt-in service, shared/service-manifest.ts `optIn`). Without NATS_URL it
 * starts a local nats-server (JetStream, data under .data/nats, port 4222 or a free one).
 * When their binaries are found (scripts/observability.ts) it also starts Jaeger (in-memory, OTLP
 * on 4318, query API on 16686) unless OTEL_EXPORTER_OTLP_ENDPOINT is set, and VictoriaLogs (9428,
 * data under .data/victoria-logs) unless VICTORIA_LOGS_URL is set — each on its default ports, or
 * free ones when those are taken (then written to .data/observability.json for the CLI) — and points
 * every service at them. Without them the services run as before and the banner says how to get them.
 * The services run from the bundle (scripts/build.ts), built first: about a second, and each
 * process then needs half the memory it would under tsx.
 * The services listen on 127.0.0.1 unless HOST is set (a laptop's API is not for the whole network;
 * `HOST=0.0.0.0 npm start` opens it); `npm run service` and compose keep every interface.
 * Ctrl-C, SIGTERM or SIGHUP (to it or to the npm above it), or the npm above it going away, drains
 * the services, then stops the servers, within 15 s; when it is SIGKILLed its children get SIGTERM
 * from the kernel (scripts/supervise.ts). One runs per checkout: a second refuses before it starts
 * or writes anything (the lock .data/npm-start.lock). A missing nats-server, Jaeger or VictoriaLogs
 * is built with Go first (scripts/tools.ts). The state lives in .data/, or ORDERSTREAM_DATA_DIR.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { localUrlOf } from "../shared/config.ts";
import type { ServiceName } from "../nats/subjects.ts";
import { freePort, isPortFree } from "./nats-binary.ts";
import { localPasswords, writeLocalNats, type NatsUser } from "./local-nats.ts";
import { SyncIntervalError, syncIntervalFrom, writeLocalNatsConfig, type SyncInterval } from "./local-nats-config.ts";
import { buildBundles, serviceBundleArgs } from "./build.ts";
import { PortVariableError, serviceEnv, servicesToStart, StartUsageError, startHost, startPorts, type StartPorts } from "./start-env.ts";
import { serverPasswordEnv } from "./nats-password-hash.ts";
import {
  DEFAULT_JAEGER_PORTS,
  DEFAULT_VICTORIA_LOGS_PORT,
  JAEGER_INSTALL_HINT,
  startJaeger,
  startVictoriaLogs,
  VICTORIA_LOGS_INSTALL_HINT,
  type JaegerPorts,
  type ManagedProcess,
} from "./observability.ts";
import { removeLocalObservability, writeLocalObservability } from "./local-observability.ts";
import { DATA_DIR } from "./data-dir.ts";
import { acquireLock, AlreadyRunningError, dyingWithParent, onStopRequest, stopChild, type HeldLock } from "./supervise.ts";
import { ensureTool, optionalTool, ToolMissingError } from "./tools.ts";

const START_LOCK_FILE = join(DATA_DIR, "npm-start.lock");

let ports: StartPorts;
/** The default services, and the opt-in ones asked for with `--with <name>` (scripts/start-env.ts). */
let services: ServiceName[];
try {
  ports = startPorts(process.env);
  services = servicesToStart(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof PortVariableError || err instanceof StartUsageError)) throw err;
  console.error(`npm start: ${err.message}`);
  process.exit(1);
}

// How often the local nats-server fsyncs (scripts/local-nats-config.ts); checked before anything starts.
let syncInterval: SyncInterval;
try {
  syncInterval = syncIntervalFrom(process.env);
} catch (err) {
  if (!(err instanceof SyncIntervalError)) throw err;
  console.error(`npm start: ${err.message}`);
  process.exit(1);
}

// Before anything is started or written: one npm start per checkout (scripts/supervise.ts).
let lock: HeldLock;
try {
  lock = acquireLock(START_LOCK_FILE, (stale) =>
    console.log(`npm start: taking over ${START_LOCK_FILE}: the npm start that held it${stale ? ` (pid ${stale.pid})` : ""} is gone.`),
  );
} catch (err) {
  if (!(err instanceof AlreadyRunningError)) throw err;
  console.error(`npm start: ${err.message}`);
  process.exit(1);
}
process.on("exit", () => lock.release());

// The local server runs with nats/auth (one least-privilege user per service) unless turned off.
const useAuth = process.env.ORDERSTREAM_NATS_AUTH !== "off";
const passwords = localPasswords();
/** Where the services listen: HOST when set, else only this machine. */
const host = startHost(process.env);
/** How long the services get to drain, then the servers to stop: 15 s in all, as a supervisor expects. */
const SERVICE_STOP_MS = 8_000;
const SERVER_STOP_MS = 5_000;

const root = fileURLToPath(new URL("..", import.meta.url));
const children: { name: string; proc: ChildProcess }[] = [];
/** Jaeger and VictoriaLogs, when started here: stopped after the services (which flush to them). */
const observers: { name: string; proc: ManagedProcess }[] = [];
let stopping = false;
let localServer = false;
/** What every service gets besides NATS and its port: where traces and logs go. */
const observabilityEnv: Record<string, string> = {};
/** Banner lines about traces and logs. */
const observabilityLines: string[] = [];

const say = (line: string) => console.log(`npm start: ${line}`);

function pipeWithPrefix(name: string, proc: ChildProcess, keep: (line: string) => boolean = () => true): void {
  const tag = `[${name}]`.padEnd(15);
  for (const stream of [proc.stdout, proc.stderr]) {
    if (stream) createInterface({ input: stream }).on("line", (line) => keep(line) && console.log(`${tag}${line}`));
  }
}

async function startNats(passwordEnv: Record<string, string>): Promise<string> {
  let binary: string;
  try {
    binary = await ensureTool("nats-server", { log: say });
  } catch (err) {
    if (!(err instanceof ToolMissingError)) throw err;
    // One line: what is missing, how to get it, and the way around it.
    console.error(`npm start: ${err.message.split("\n").join(" ")} Or point it at a running server: NATS_URL=nats://host:4222 npm start.`);
    return stopAll(1);
  }
  const port = ports.nats ?? (await portOr(4222));
  const storeDir = join(DATA_DIR, "nats");
  mkdirSync(storeDir, { recursive: true });
  const configFile = writeLocalNatsConfig(syncInterval, useAuth ? `${root}nats/auth/nats-server.auth.conf` : undefined);
  // Its own process group: Ctrl-C must not stop the server before the services have drained.
  const [command, args] = dyingWithParent(binary, ["-c", configFile, "-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir]);
  const proc = spawn(command, args, {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    env: { ...process.env, ...passwordEnv },
  });
  children.push({ name: "nats-server", proc });
  process.on("exit", () => proc.kill("SIGTERM"));
  if (stopping) return stopAll(1);
  pipeWithPrefix("nats", proc, (line) => /\[(WRN|ERR|FTL)\]/.test(line));
  proc.on("exit", (code) => {
    if (!stopping) {
      console.error(`nats-server exited (code ${code}); stopping.`);
      void stopAll(1);
    }
  });
  await waitForPort(port);
  const url = `nats://127.0.0.1:${port}`;
  writeLocalNats({ url, passwords });
  console.log(
    `Started nats-server ${binary} on ${url} (JetStream data in ${storeDir}, sync_interval ${syncInterval}, set by NATS_SYNC_INTERVAL` +
      (useAuth ? "; one NATS user per service, nats/auth, passwords bcrypt-hashed — ORDERSTREAM_NATS_AUTH=off to run without)." : ")."),
  );
  localServer = true;
  return url;
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (!(await isPortFree(port))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nats-server did not open port ${port} within 10 s`);
}

function startService(name: ServiceName, natsUrl: string, port: number): void {
  const credentials = localServer && useAuth ? { user: name, password: passwords[name as NatsUser] } : undefined;
  const env = serviceEnv({ ...process.env, ...observabilityEnv }, { natsUrl, host, port, credentials });
  // Its own process group: Ctrl-C and a closing terminal's SIGHUP reach npm start, which stops the
  // services first and in order, not each service on its own.
  const [command, args] = dyingWithParent(process.execPath, serviceBundleArgs(name));
  const proc = spawn(command, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  children.push({ name, proc });
  pipeWithPrefix(name, proc);
  proc.on("exit", (code, signal) => {
    if (!stopping) console.error(`${name} service exited (${signal ?? `code ${code}`}); the others keep running.`);
  });
}

/** Stops everything started here, services first, and exits; a second call waits for the first. */
async function stopAll(code: number): Promise<never> {
  if (stopping) return new Promise<never>(() => {});
  stopping = true;
  const started = performance.now();
  const services = children.filter((c) => c.name !== "nats-server");
  await Promise.all(services.map((c) => stopChild(c.proc, SERVICE_STOP_MS)));
  const servers = children.filter((c) => c.name === "nats-server");
  await Promise.all([...servers.map((c) => stopChild(c.proc, SERVER_STOP_MS)), ...observers.map((o) => o.proc.stop())]);
  // How each ended: a service that drained exits 0; "SIGKILL" means it overran its time.
  const how = (c: (typeof children)[number]) => `${c.name} ${c.proc.signalCode ?? c.proc.exitCode}`;
  if (children.length > 0) {
    say(
      `stopped in ${((performance.now() - started) / 1000).toFixed(1)} s: ${[...services, ...servers].map(how).join(", ")}` +
        (observers.length ? `, ${observers.map((o) => o.name).join(", ")}` : ""),
    );
  }
  removeLocalObservability();
  lock.release();
  return process.exit(code);
}

/** The port itself when free, else a free one: the defaults keep the CLI's defaults right. */
async function portOr(preferred: number): Promise<number> {
  return (await isPortFree(preferred)) ? preferred : freePort();
}

function watchObserver(name: string, proc: ManagedProcess, what: string): void {
  observers.push({ name, proc });
  proc.onUnexpectedExit((code, signal) => {
    if (!stopping)
      console.error(
        `${name} exited (${signal ?? `code ${code}`}); the services keep running without ${what}. Its last lines:\n${proc.logs().split("\n").slice(-10).join("\n")}`,
      );
  });
}

/**
 * Jaeger and VictoriaLogs beside the services, when their binaries are there and nothing else is
 * configured; otherwise the banner says what to do. Never fatal: the system runs without them.
 */
async function startObservability(): Promise<void> {
  const traceExportSet = !!(process.env.OTEL_EXPORTER_OTLP_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const tracesOff = (process.env.OTEL_TRACES_EXPORTER ?? "")
    .split(",")
    .map((v) => v.trim())
    .includes("none");
  const local: { jaegerQueryUrl?: string; otlpUrl?: string; victoriaLogsUrl?: string } = {};
  // Built with Go on first use; without Go (or when the build fails) a warning, and no traces or central logs.
  const warn = (line: string) => console.warn(`npm start: ${line}`);
  const [jaegerBinary, logsBinary] = await Promise.all([
    traceExportSet || tracesOff ? null : optionalTool("jaeger", say, warn),
    process.env.VICTORIA_LOGS_URL ? null : optionalTool("victoria-logs", say, warn),
  ]);
  if (stopping) return;
  const [jaeger, logs] = await Promise.allSettled([
    jaegerBinary
      ? (async () => {
          const ports: JaegerPorts = {
            otlpHttp: await portOr(DEFAULT_JAEGER_PORTS.otlpHttp),
            queryHttp: await portOr(DEFAULT_JAEGER_PORTS.queryHttp),
            queryGrpc: await portOr(DEFAULT_JAEGER_PORTS.queryGrpc),
          };
          return startJaeger({ binary: jaegerBinary, ports, detached: true, dieWithParent: true });
        })()
      : Promise.resolve(null),
    logsBinary
      ? (async () =>
          startVictoriaLogs({
            binary: logsBinary,
            port: await portOr(DEFAULT_VICTORIA_LOGS_PORT),
            dataDir: join(DATA_DIR, "victoria-logs"),
            detached: true,
            dieWithParent: true,
          }))()
      : Promise.resolve(null),
  ]);

  if (jaeger.status === "fulfilled" && jaeger.value) {
    const j = jaeger.value;
    watchObserver("jaeger", j, "trace export");
    Object.assign(observabilityEnv, {
      OTEL_EXPORTER_OTLP_ENDPOINT: j.otlpUrl,
      JAEGER_QUERY_URL: j.queryUrl,
      // Spans reach Jaeger within a second (the SDK's default waits 5 s), so `cli trace` right after an order works.
      OTEL_BSP_SCHEDULE_DELAY: process.env.OTEL_BSP_SCHEDULE_DELAY ?? "1000",
    });
    Object.assign(local, { jaegerQueryUrl: j.queryUrl, otlpUrl: j.otlpUrl });
    observabilityLines.push(
      `  traces         Jaeger ${j.binary} (in-memory): OTLP ${j.otlpUrl}, query API ${j.queryUrl}/api/v3/traces/<traceId>`,
      `                 UI ${j.queryUrl} (a Jaeger built with go has no UI assets: a placeholder page; the order page and \`npm run cli -- trace <id>\` show the waterfall)`,
    );
  } else if (jaeger.status === "rejected") {
    observabilityLines.push(`  traces         not exported: Jaeger did not start (${(jaeger.reason as Error).message.split("\n")[0]})`);
  } else if (traceExportSet) {
    observabilityLines.push(
      `  traces         → ${process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT}; Jaeger query ${process.env.JAEGER_QUERY_URL ?? "http://127.0.0.1:16686"}`,
    );
  } else if (tracesOff) {
    observabilityLines.push("  traces         not exported (OTEL_TRACES_EXPORTER=none)");
  } else {
    observabilityLines.push(`  traces         not exported: ${JAEGER_INSTALL_HINT}`);
  }

  if (logs.status === "fulfilled" && logs.value) {
    const v = logs.value;
    watchObserver("victoria-logs", v, "central logs (they still go to this terminal)");
    observabilityEnv.VICTORIA_LOGS_URL = v.url;
    local.victoriaLogsUrl = v.url;
    observabilityLines.push(
      `  logs           VictoriaLogs ${v.binary} on ${v.url} (data in .data/victoria-logs); UI ${v.url}/select/vmui/ — \`npm run cli -- logs <id>\``,
    );
  } else if (logs.status === "rejected") {
    observabilityLines.push(
      `  logs           to this terminal only: VictoriaLogs did not start (${(logs.reason as Error).message.split("\n")[0]})`,
    );
  } else if (process.env.VICTORIA_LOGS_URL) {
    observabilityLines.push(`  logs           → ${process.env.VICTORIA_LOGS_URL} (VICTORIA_LOGS_URL)`);
  } else {
    observabilityLines.push(`  logs           to this terminal only: ${VICTORIA_LOGS_INSTALL_HINT}`);
  }
  if (local.jaegerQueryUrl || local.victoriaLogsUrl) writeLocalObservability({ pid: process.pid, ...local });
}

onStopRequest((why) => {
  console.log(`npm start: stopping (${why}).`);
  void stopAll(0);
});

// The server gets bcrypt hashes of the passwords (scripts/nats-password-hash.ts), made while the bundles build.
const needServer = !process.env.NATS_URL?.trim();
const [, passwordEnv] = await Promise.all([buildBundles(), needServer && useAuth ? serverPasswordEnv(passwords) : {}]);
const natsUrl = process.env.NATS_URL?.trim() || (await startNats(passwordEnv));
await startObservability();
for (const name of services) {
  const port = ports.services[name];
  if (stopping) break;
  if (!(await isPortFree(port, host))) {
    console.error(
      `Port ${port} for the ${name} service is taken; free it (or move it: ${name.toUpperCase()}_PORT=…), or stop the other orderstream first.`,
    );
    await stopAll(1);
  }
  startService(name, natsUrl, port);
}
const url = (name: ServiceName) => localUrlOf(host, ports.services[name]);
function listenNote(bound: string): string {
  if (bound === "127.0.0.1") return "listening on 127.0.0.1 only (HOST=0.0.0.0 npm start opens them to the network)";
  return bound === "0.0.0.0" || bound === "::" ? `listening on every interface (HOST=${bound})` : `listening on ${bound} (HOST)`;
}
console.log(`
orderstream is starting against ${natsUrl}
  order API      ${url("order")}/orders   (try: curl -XPOST ${url("order")}/orders -H 'content-type: application/json' -d '{"userId":"u1","amount":42}')
  payment        ${url("payment")}/readyz
  shipping       ${url("shipping")}/readyz
  notification   ${url("notification")}/users/<userId>/notifications
${services.includes("loyalty") ? `  loyalty        ${url("loyalty")}/users/<userId>/points\n` : ""}  order page     ${url("order")}/orders/<orderId>/view   (events, trace waterfall, log lines)
  API documents  ${url("order")}/docs (and /openapi.json, /asyncapi.json on every service)
  ${listenNote(host)}
${observabilityLines.join("\n")}
Ctrl-C (or SIGTERM/SIGHUP to npm or to pid ${process.pid}) stops everything.
`);
lock.update({
  nats: natsUrl,
  ...Object.fromEntries(services.map((name) => [name, url(name)])),
  ...(observabilityEnv.JAEGER_QUERY_URL ? { jaeger: observabilityEnv.JAEGER_QUERY_URL } : {}),
  ...(observabilityEnv.VICTORIA_LOGS_URL ? { "victoria-logs": observabilityEnv.VICTORIA_LOGS_URL } : {}),
});
