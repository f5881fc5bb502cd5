/**
 * What every service shares around its own core, put together: the metrics, the NATS side
 * (host/nats-lifecycle.ts: connect, set up, consume, readiness, drain) and the HTTP app that
 * reads it (host/http-app.ts). Web-standard only: the runtime entry (host/runtime/) opens the port
 * and wires signals (host/run-service.ts).
 */
import { createMetrics } from "./metrics.ts";
import { createHttpApp } from "./http-app.ts";
import { createNatsLifecycle } from "./nats-lifecycle.ts";
import type { RunningService, ServiceOptions } from "./service-definition.ts";

/**
 * One service instance: its app answers at once (/readyz 503 until `start()` has resolved);
 * `start()` connects and starts consuming, `stop()` drains.
 *
 * @example
 * const service = createService({ definition: orderService, config: loadConfig("order", env), log });
 * serve(service.app.fetch);
 * await service.start();
 */
export function createService<R>(opts: ServiceOptions<R>): RunningService {
  const { definition, config, log } = opts;
  const metrics = createMetrics(config.service);
  if (opts.logShipping) metrics.watchLogShipping(opts.logShipping);
  if (opts.droppedSpans) metrics.watchDroppedSpans(opts.droppedSpans);
  const nats = createNatsLifecycle({
    definition,
    config,
    log,
    metrics,
    nats: opts.nats ?? {},
    describeInstance: opts.describeInstance ?? {},
    instanceId: opts.instanceId ?? crypto.randomUUID(),
    crashOn: opts.crashOn,
  });
  // orderstream_ready in /metrics is what /readyz answers.
  metrics.watchReadiness(() => ({ ready: nats.ready(), store: nats.readiness()?.storeUsage() }));
  const app = createHttpApp({ definition, config, log, metrics, state: nats, connection: opts.connection });
  return { app, ready: nats.ready, start: nats.start, stop: nats.stop };
}
