/**
 * `npm start`: the whole system on one machine, each service its own process. Without NATS_URL it
 * starts a local nats-server (JetStream, data under .data/nats, port 4222 or a free one).
 * The services run from the bundle (scripts/build.ts), built first: about a second, and each
 * process then needs half the memory it would under tsx.
 * Ctrl-C (or SIGTERM) drains the services, then stops the server.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { DEFAULT_PORTS } from "../shared/config.ts";
import { SERVICES, type ServiceName } from "../nats/subjects.ts";
import { findNatsServer, freePort, isPortFree, NATS_INSTALL_HINT } from "./nats-binary.ts";
import { localPasswords, writeLocalNats, type NatsUser } from "./local-nats.ts";
import { buildBundles, serviceBundleArgs } from "./build.ts";

// The local server runs with nats/auth (one least-privilege user per service) unless turned off.
const useAuth = process.env.ORDERSTREAM_NATS_AUTH !== "off";
const passwords = localPasswords();

const root = fileURLToPath(new URL("..", import.meta.url));
const children: { name: string; proc: ChildProcess }[] = [];
let stopping = false;
let localServer = false;

function pipeWithPrefix(name: string, proc: ChildProcess, keep: (line: string) => boolean = () => true): void {
  const tag = `[${name}]`.padEnd(15);
  for (const stream of [proc.stdout, proc.stderr]) {
    if (stream) createInterface({ input: stream }).on("line", (line) => keep(line) && console.log(`${tag}${line}`));
  }
}

async function startNats(): Promise<string> {
  const binary = findNatsServer();
  if (!binary) {
    console.error(`npm start: NATS_URL is not set and ${NATS_INSTALL_HINT}`);
    console.error("Or point the system at a running server: NATS_URL=nats://host:4222 npm start");
    process.exit(1);
  }
  const port = (await isPortFree(4222)) ? 4222 : await freePort();
  const storeDir = `${root}.data/nats`;
  mkdirSync(storeDir, { recursive: true });
  const authArgs = useAuth ? ["-c", `${root}nats/auth/nats-server.auth.conf`] : [];
  const passwordEnv = Object.fromEntries(
    Object.entries(passwords).map(([user, password]) => [`${user.toUpperCase()}_NATS_PASSWORD`, password]),
  );
  // Its own process group: Ctrl-C must not stop the server before the services have drained.
  const proc = spawn(binary, [...authArgs, "-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
    env: { ...process.env, ...passwordEnv },
  });
  children.push({ name: "nats-server", proc });
  process.on("exit", () => proc.kill("SIGTERM"));
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
    `Started nats-server ${binary} on ${url} (JetStream data in ${storeDir}` +
      (useAuth ? "; one NATS user per service, nats/auth — ORDERSTREAM_NATS_AUTH=off to run without)." : ")."),
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
  const env: NodeJS.ProcessEnv = { ...process.env, NATS_URL: natsUrl, PORT: String(port) };
  if (localServer && useAuth) {
    env.NATS_USER = name;
    env.NATS_PASSWORD = passwords[name as NatsUser];
  }
  // Without a collector to send to, exporting would only log connection errors.
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) env.OTEL_TRACES_EXPORTER ??= "none";
  const proc = spawn(process.execPath, serviceBundleArgs(name), { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  children.push({ name, proc });
  pipeWithPrefix(name, proc);
  proc.on("exit", (code, signal) => {
    if (!stopping) console.error(`${name} service exited (${signal ?? `code ${code}`}); the others keep running.`);
  });
}

async function stopAll(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  const services = children.filter((c) => c.name !== "nats-server");
  await Promise.all(services.map((c) => exitOf(c.proc, "SIGTERM")));
  await Promise.all(children.filter((c) => c.name === "nats-server").map((c) => exitOf(c.proc, "SIGTERM")));
  process.exit(code);
}

function exitOf(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
    proc.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill(signal);
  });
}

process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

await buildBundles();
const natsUrl = process.env.NATS_URL?.trim() || (await startNats());
for (const name of SERVICES) {
  const port = DEFAULT_PORTS[name];
  if (!(await isPortFree(port, "0.0.0.0"))) {
    console.error(`Port ${port} for the ${name} service is taken; free it, or stop the other orderstream first.`);
    await stopAll(1);
  }
  startService(name, natsUrl, port);
}
console.log(`
orderstream is starting against ${natsUrl}
  order API      http://127.0.0.1:${DEFAULT_PORTS.order}/orders   (try: curl -XPOST localhost:${DEFAULT_PORTS.order}/orders -H 'content-type: application/json' -d '{"userId":"u1","amount":42}')
  payment        http://127.0.0.1:${DEFAULT_PORTS.payment}/readyz
  shipping       http://127.0.0.1:${DEFAULT_PORTS.shipping}/readyz
  notification   http://127.0.0.1:${DEFAULT_PORTS.notification}/users/<userId>/notifications
  ${process.env.OTEL_EXPORTER_OTLP_ENDPOINT ? `traces → ${process.env.OTEL_EXPORTER_OTLP_ENDPOINT}; Jaeger UI ${process.env.JAEGER_QUERY_URL ?? "http://127.0.0.1:16686"}` : "traces are not exported (set OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 to send them to Jaeger)"}
Ctrl-C stops everything.
`);
