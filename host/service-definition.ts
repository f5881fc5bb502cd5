/**
 * What a service is to the host (host/service-host.ts): its definition (services/<name>/service.ts),
 * what its code gets once NATS is there, what the entry may hand the host, and the running service.
 */
import type { Hono } from "hono";
import type { NatsConnection } from "@nats-io/transport-node";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { ConnectionFacts } from "../otel/http-server-span.ts";
import type { ServiceConfig } from "../shared/config.ts";
import type { Logger } from "../shared/logger.ts";
import type { LogShippingStats } from "../shared/log-shipper.ts";
import type { NatsConnectOptions } from "../nats/connect.ts";
import type { EventPublisher } from "../nats/publish-event.ts";
import type { JetStreamPublisher } from "../nats/jetstream-publisher.ts";
import type { HandlerFactory } from "../nats/delivery.ts";
import type { StoredEvent } from "../nats/order-history.ts";
import type { ServiceName } from "../nats/subjects.ts";
import type { HubLink } from "../nats/sites.ts";
import type { ServiceMetrics } from "./metrics.ts";
import type { CrashOn } from "./crash-hook.ts";

/** What a service's own code gets once NATS is there. */
export interface Infra {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  publisher: EventPublisher;
  /** JetStream publishes of anything else (notifications), pipelined like the events'. */
  streamPublisher: JetStreamPublisher;
  /** One order's events from the stream, in stream order (empty for an unknown order). */
  history(orderId: string): Promise<StoredEvent[]>;
  config: ServiceConfig;
  log: Logger;
  metrics: ServiceMetrics;
  /** This instance's id among its service's instances (the partition assignment's key). */
  instanceId: string;
  /** At a site (SITE): the link to the hub, as the site sees it; absent elsewhere. */
  hubLink?: HubLink;
}

/** A service: its name, how it sets itself up, its handler of the events it is delivered, and its routes. */
export interface ServiceDefinition<R> {
  name: ServiceName;
  /** Binds buckets etc. and returns the runtime its handlers and routes use. */
  setup(infra: Infra): Promise<R>;
  /** Its partition handlers (the events delivered are those of CONSUMED_EVENT_TYPES). */
  handlers(runtime: R): HandlerFactory;
  /**
   * Mounts the service's routes, each with its `describeRoute(...)` (shared/http/openapi.ts);
   * `runtime()` throws a 503 problem until NATS is ready.
   */
  routes?(app: Hono, runtime: () => R, config: ServiceConfig): void;
  /** What the service's OpenAPI document says of its API (GET /openapi.json, GET /docs). */
  api?(config: ServiceConfig): { description: string; bearerAuth?: boolean };
  /**
   * Whether a full event store makes the instance unready: true for a service that takes writes
   * from users (it cannot take them); consumers stay ready so that they keep draining.
   */
  unreadyWhenStoreFull?: boolean;
}

export interface RunningService {
  app: Hono;
  /** Connects, sets up and starts consuming; resolves when the service is ready. */
  start(): Promise<void>;
  ready(): boolean;
  /** Drains: no new pulls, in-flight messages settled, connection drained. */
  stop(): Promise<void>;
}

/** The NATS connection options the entry chooses (credentials file, TLS); the rest come from the config. */
export type EntryNatsOptions = Omit<NatsConnectOptions, "servers" | "user" | "password" | "name">;

/** What `createService` is given: the definition, config and logger, and what the entry adds. */
export interface ServiceOptions<R> {
  definition: ServiceDefinition<R>;
  config: ServiceConfig;
  log: Logger;
  /** Default: none besides the config's. */
  nats?: EntryNatsOptions;
  /** What the instance's heartbeat says of it besides service and port (the entry adds pid, runtime). */
  describeInstance?: Record<string, unknown>;
  /** This process's id among its service's instances (default: a fresh UUID). */
  instanceId?: string;
  /** The log shipper's totals, for the log shipping metrics (absent: logs go to stdout only). */
  logShipping?: () => LogShippingStats;
  /** Spans the trace SDK dropped so far (otel/diagnostics.ts), for /metrics. */
  droppedSpans?: () => number;
  /** The runtime's reader of a request's connection (client address, HTTP version) for the SERVER spans. */
  connection?: (env: unknown) => ConnectionFacts | undefined;
  /**
   * Test hook (ORDERSTREAM_TEST_CRASH_ON, host/run-service.ts): the process dies, with `exit`, when
   * its handler is given an event of this user. Unset in production: the handlers are not wrapped.
   */
  crashOn?: CrashOn;
}
