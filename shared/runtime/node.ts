/**
 * Runs one service as a Node process: tracing first, then the HTTP port, then NATS; SIGTERM/SIGINT
 * drain (in-flight messages finish and are acked, nothing new is pulled) and exit 0.
 */
import { readFileSync } from "node:fs";
import { serve } from "@hono/node-server";
import { startTracing } from "../../otel/sdk.ts";
import { ConfigError, loadConfig, natsTlsFrom } from "../config.ts";
import { createLogger } from "../logger.ts";
import { createService } from "../service-host.ts";
import { serviceDefinitions } from "../../services/registry.ts";
import type { ServiceName } from "../../nats/subjects.ts";

const DRAIN_TIMEOUT_MS = 25_000;

export async function runServiceOnNode(name: ServiceName): Promise<void> {
  const tracing = startTracing(`${name}-service`, process.env);
  let config;
  try {
    config = loadConfig(name, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`${name}: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(`${name}-service`, config.logLevel);
  const creds = config.natsCredsFile ? readFileSync(config.natsCredsFile, "utf8") : undefined;
  let tls;
  try {
    tls = natsTlsFrom(config, (path) => readFileSync(path, "utf8"));
  } catch (err) {
    console.error(`${name}: ${(err as Error).message}`);
    process.exit(1);
  }
  const service = createService(serviceDefinitions[name], config, log, { creds, tls });
  const server = serve({ fetch: service.app.fetch, port: config.port, hostname: process.env.HOST ?? "0.0.0.0" });
  server.on("error", (err) => {
    log.fatal({ err, port: config.port }, `cannot listen on port ${config.port}`);
    process.exit(1);
  });
  log.info({ port: config.port, pid: process.pid }, `${name} service listening on http://127.0.0.1:${config.port}`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "draining");
    const timer = setTimeout(() => {
      log.error("drain took too long; exiting");
      process.exit(1);
    }, DRAIN_TIMEOUT_MS);
    try {
      await service.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await tracing.shutdown();
      clearTimeout(timer);
      log.info("drained; bye");
      process.exit(0);
    } catch (err) {
      log.error({ err }, "drain failed");
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));

  try {
    await service.start();
  } catch (err) {
    log.fatal({ err }, "could not start: NATS setup failed");
    await tracing.shutdown().catch(() => {});
    process.exit(1);
  }
}
