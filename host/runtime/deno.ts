/**
 * Runs one service as a Deno 2 process (`deno run -A services/<name>/main.deno.ts`, or
 * `deno task <name>`): Deno's process, file and HTTP server APIs for
 * runService (run-service.ts), the same lifecycle as on Node. Everything below this file is the same code Node runs: npm packages resolved from
 * node_modules (deno.json `"nodeModulesDir": "manual"`), so nothing is downloaded at run time.
 *
 * Tracing: the same OpenTelemetry SDK bootstrap as on Node (otel/sdk.ts: OTLP/HTTP JSON
 * exporter, batch processor, trace contexts passed explicitly), which works on Deno's Node
 * compatibility layer, so traces look the same whichever runtime a service runs on. Deno's built-in
 * OpenTelemetry (`OTEL_DENO=true`) must stay off: it takes over the global OpenTelemetry API first,
 * and the SDK's spans are then not exported at all, so the entry refuses to start with it.
 */
import type { ServiceDefinition } from "../service-definition.ts";
import { runService } from "../run-service.ts";

/**
 * The few Deno APIs this entry uses, declared here so `tsc` (Node types) type-checks this file
 * too; under `deno check` the local declaration shadows the global `Deno` namespace the same way.
 */
/** What Deno.serve passes its handler beside the request (Hono's `c.env`). */
interface DenoServeInfo {
  remoteAddr?: { hostname?: string; port?: number };
}
interface DenoHttpServer {
  shutdown(): Promise<void>;
}
declare const Deno: {
  env: { toObject(): Record<string, string> };
  pid: number;
  exit(code?: number): never;
  readTextFileSync(path: string): string;
  addSignalListener(signal: "SIGTERM" | "SIGINT", handler: () => void): void;
  serve(
    options: { port: number; hostname?: string; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (request: Request, info: DenoServeInfo) => Response | Promise<Response>,
  ): DenoHttpServer;
};

/** Starts a service on Deno; returns once it is connected to NATS and consuming. */
export function runServiceOnDeno(definition: ServiceDefinition<unknown>): Promise<void> {
  const name = definition.name;
  const env = Deno.env.toObject();
  if (env.OTEL_DENO === "true") {
    // Checked on Deno 2.9.6: with it on, the SDK's spans never reach the collector. Refuse rather than trace nothing.
    console.error(
      `${name}: unset OTEL_DENO (or set it to false): the service exports its traces through the OpenTelemetry SDK, which Deno's built-in telemetry would displace`,
    );
    Deno.exit(1);
  }
  return runService(definition, {
    runtime: "deno",
    env,
    pid: Deno.pid,
    readTextFile: (path) => Deno.readTextFileSync(path),
    exit: (code) => Deno.exit(code),
    onSignal: (signal, handler) => Deno.addSignalListener(signal, handler),
    // Deno.serve does not tell the HTTP version; the client's address it does.
    connection: (env) => {
      const remote = (env as DenoServeInfo | undefined)?.remoteAddr;
      return remote ? { clientAddress: remote.hostname, clientPort: remote.port } : undefined;
    },
    serve(fetch, { port, hostname, onListening, onError }) {
      try {
        const server = Deno.serve({ port, hostname, onListen: onListening }, fetch);
        return { close: () => server.shutdown() };
      } catch (err) {
        onError(err);
        throw err;
      }
    },
  });
}
