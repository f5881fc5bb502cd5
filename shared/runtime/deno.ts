/**
 * Runs one service as a Deno 2 process (`deno run -A services/<name>/main.deno.ts`, or
 * `deno task <name>`): the Deno twin of node.ts. Tracing first, then the HTTP port (`Deno.serve`),
 * then NATS; SIGTERM/SIGINT drain (in-flight messages finish and are acked, nothing new is pulled)
 * and exit 0. Everything below this file is the same code Node runs: npm packages resolved from
 * node_modules (deno.json `"nodeModulesDir": "manual"`), so nothing is downloaded at run time.
 *
 * Tracing: the same OpenTelemetry NodeSDK bootstrap as on Node (otel/sdk.ts: OTLP/HTTP JSON
 * exporter, batch processor, AsyncLocalStorage context manager), which works on Deno's Node
 * compatibility layer, so traces look the same whichever runtime a service runs on. Deno's built-in
 * OpenTelemetry (`OTEL_DENO=true`) must stay off: it takes over the global OpenTelemetry API first,
 * and the SDK's spans are then not exported at all, so the entry refuses to start with it.
 */
import { startTracing } from "../../otel/sdk.ts";
import { ConfigError, loadConfig, natsTlsFrom } from "../config.ts";
import { createLogger } from "../logger.ts";
import { createService } from "../service-host.ts";
import { serviceDefinitions } from "../../services/registry.ts";
import type { ServiceName } from "../../nats/subjects.ts";

/**
 * The few Deno APIs this entry uses, declared here so `tsc` (Node types) type-checks this file
 * too; under `deno check` the local declaration shadows the global `Deno` namespace the same way.
 */
interface DenoHttpServer {
  shutdown(): Promise<void>;
}
declare const Deno: {
  env: { toObject(): Record<string, string> };
  pid: number;
  exit(code?: number): never;
  readTextFile(path: string): Promise<string>;
  readTextFileSync(path: string): string;
  addSignalListener(signal: "SIGTERM" | "SIGINT", handler: () => void): void;
  serve(
    options: { port: number; hostname?: string; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): DenoHttpServer;
};

const DRAIN_TIMEOUT_MS = 25_000;

/** Starts service `name` on Deno; returns once it is connected to NATS and consuming. */
export async function runServiceOnDeno(name: ServiceName): Promise<void> {
  const env = Deno.env.toObject();
  if (env.OTEL_DENO === "true") {
    // Checked on Deno 2.9.6: with it on, the SDK's spans never reach the collector. Refuse rather than trace nothing.
    console.error(`${name}: unset OTEL_DENO (or set it to false): the service exports its traces through the OpenTelemetry SDK, which Deno's built-in telemetry would displace`);
    Deno.exit(1);
  }
  const tracing = startTracing(`${name}-service`, env);
  let config;
  try {
    config = loadConfig(name, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`${name}: ${err.message}`);
      Deno.exit(1);
    }
    throw err;
  }
  const log = createLogger(`${name}-service`, config.logLevel);
  const creds = config.natsCredsFile ? await Deno.readTextFile(config.natsCredsFile) : undefined;
  let tls;
  try {
    tls = natsTlsFrom(config, (path) => Deno.readTextFileSync(path));
  } catch (err) {
    console.error(`${name}: ${(err as Error).message}`);
    Deno.exit(1);
  }
  const service = createService(serviceDefinitions[name], config, log, { creds, tls });
  const port = config.port;
  let server: DenoHttpServer;
  try {
    server = Deno.serve(
      {
        port,
        hostname: env.HOST ?? "0.0.0.0",
        // Replaces Deno's own "Listening on" line with a structured one.
        onListen: () => log.info({ port, pid: Deno.pid, runtime: "deno" }, `${name} service listening on http://127.0.0.1:${port}`),
      },
      service.app.fetch,
    );
  } catch (err) {
    log.fatal({ err, port }, `cannot listen on port ${port}`);
    Deno.exit(1);
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "draining");
    const timer = setTimeout(() => {
      log.error("drain took too long; exiting");
      Deno.exit(1);
    }, DRAIN_TIMEOUT_MS);
    try {
      await service.stop();
      await server.shutdown();
      await tracing.shutdown();
      clearTimeout(timer);
      log.info("drained; bye");
      Deno.exit(0);
    } catch (err) {
      log.error({ err }, "drain failed");
      Deno.exit(1);
    }
  };
  Deno.addSignalListener("SIGTERM", () => void shutdown("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => void shutdown("SIGINT"));

  try {
    await service.start();
  } catch (err) {
    log.fatal({ err }, "could not start: NATS setup failed");
    await tracing.shutdown().catch(() => {});
    Deno.exit(1);
  }
}
