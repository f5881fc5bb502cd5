/**
 * A service run inside the test process (no port, no child process): `createService` with a
 * config built from env, reached through `app.request()`. Fast enough for fuzzing thousands of
 * requests against a real nats-server.
 */
import type { Hono } from "hono";
import { loadConfig } from "../../shared/config.ts";
import { createLogger } from "../../shared/logger.ts";
import { createService } from "../../host/service-host.ts";
import type { RunningService } from "../../host/service-definition.ts";
import { serviceDefinitions } from "../../services/registry.ts";
import type { ServiceName } from "../../nats/subjects.ts";

export interface InProcessService {
  app: Hono;
  service: RunningService;
  stop(): Promise<void>;
}

/** Starts service `name` in this process against `natsUrl`; resolves once it is ready. */
export async function startInProcess(name: ServiceName, natsUrl: string, env: Record<string, string> = {}): Promise<InProcessService> {
  // An unreachable Jaeger answers at once (connection refused): trace lookups degrade to a warning.
  const config = loadConfig(name, { NATS_URL: natsUrl, JAEGER_QUERY_URL: "http://127.0.0.1:9", HANDLER_RETRY_BASE_MS: "50", ...env });
  const log = createLogger(`${name}-service`, env.LOG_LEVEL ?? "silent");
  const service = createService({ definition: serviceDefinitions[name], config, log });
  await service.start();
  return { app: service.app, service, stop: () => service.stop() };
}
