/** Runs one service as a Node process: Node's process, file and HTTP server APIs for runService. */
import { readFileSync } from "node:fs";
import { serve } from "@hono/node-server";
import type { ServiceDefinition } from "../service-host.ts";
import { runService } from "../run-service.ts";

export function runServiceOnNode(definition: ServiceDefinition<unknown>): Promise<void> {
  return runService(definition, {
    runtime: "node",
    env: process.env,
    pid: process.pid,
    readTextFile: (path) => readFileSync(path, "utf8"),
    exit: (code) => process.exit(code),
    onSignal: (signal, handler) => process.on(signal, handler),
    serve(fetch, { port, hostname, onListening, onError }) {
      const server = serve({ fetch, port, hostname }, onListening);
      server.on("error", onError);
      return { close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
    },
  });
}
