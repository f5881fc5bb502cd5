/**
 * What every service shares around its own core: the HTTP app with /healthz, /readyz, /metrics,
 * problem+json errors and metrics; the NATS connection and the idempotent creation of streams,
 * consumers and buckets; the partition consumers; readiness; and the drain on stop.
 * Web-standard only: the runtime entry (node.ts / deno.ts) opens the port and wires signals.
 */
import { Hono, type Context } from "hono";
import { httpServerSpans, requestSpan, type ConnectionFacts } from "../otel/http-server-span.ts";
import { routePath } from "hono/route";
import { HTTPException } from "hono/http-exception";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { DEFAULT_PORTS, type ServiceConfig } from "../shared/config.ts";
import { traceFields, type Logger } from "../shared/logger.ts";
import type { LogShippingStats } from "../shared/log-shipper.ts";
import { createMetrics, type ServiceMetrics } from "./metrics.ts";
import { HttpProblem, problemResponse } from "../shared/http/problem.ts";
import { hardening, natsUnavailable, storeFullProblem, unavailableProblem } from "../shared/http/hardening.ts";
import { storeRefusal } from "../shared/store-refusal.ts";
import { createJetStreamProbe } from "../nats/jetstream-probe.ts";
import { createReadiness, type Readiness as ReadinessState } from "./readiness.ts";
import { crashingOn, type CrashOn } from "./crash-hook.ts";
import { connectNats, inboxPrefixOf, type NatsConnectOptions } from "../nats/connect.ts";
import { assertServerVersion } from "../nats/server-version.ts";
import { bucketOptions } from "../nats/definitions.ts";
import {
  ensureBucket,
  ensureDeadLetterStreams,
  ensureOrderStreams,
  ensurePartitionConsumers,
  updateOrderStreamLimits,
} from "../nats/setup.ts";
import { createEventPublisher, type EventPublisher } from "../nats/publish-event.ts";
import { createJetStreamPublisher, type JetStreamPublisher } from "../nats/jetstream-publisher.ts";
import { startPartitionedConsumers, type RunningConsumers } from "../nats/partitioned-consumer.ts";
import { defaultRetryDelayMs, type HandlerFactory } from "../nats/delivery.ts";
import { readOrderEvents, type StoredEvent } from "../nats/order-history.ts";
import { BUCKETS, ORDERS_STREAM, type ServiceName } from "../nats/subjects.ts";
import { writeDeadLetter } from "../nats/dead-letter-write.ts";
import { startAdvisoryProcessor } from "../nats/dead-letter-advisories.ts";
import { startRetryProcessor } from "../nats/dead-letter-retry.ts";
import { kvCrashSuspects } from "../nats/crash-suspects.ts";
import { readJetStreamStats } from "../nats/jetstream-stats.ts";
import { describeRoute, jsonResponse, serveApiDocuments, type ApiServer } from "../shared/http/openapi.ts";
import { generateAsyncApiDocument, type AsyncApiDocument } from "../nats/asyncapi.ts";
import { ensureSiteLinks, watchHubLink, type HubLink } from "../nats/sites.ts";
import { allowedMethods } from "../shared/http/allowed-methods.ts";
import { AsyncApiBody, HealthBody, ReadinessBody, type Health, type Readiness } from "./http-schemas.ts";

/** Where a service answers by default on the machine that runs it (PORT unset, as `npm start` runs it). */
export function defaultServer(service: ServiceName): ApiServer {
  return {
    url: "http://localhost:{port}",
    description: `The ${service} service's default address on the machine that runs it (npm start; PORT unset).`,
    variables: { port: { default: String(DEFAULT_PORTS[service]), description: "The service's PORT." } },
  };
}

/** The version of the HTTP API the documents describe (not the package's). */
export const API_VERSION = "1.0.0";

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

/** Readiness probe: one round every second, each round trip given up after 2.5 s (503 within 5 s of the server not answering). */
const PROBE_INTERVAL_MS = 1_000;
const PROBE_TIMEOUT_MS = 2_500;

/** How long a start-up step keeps trying while NATS does not answer. */
const START_STEP_RETRY_MS = 60_000;

const NOT_READY = new HttpProblem(503, "not-ready", "The service is not connected to NATS yet; retry shortly.");
NOT_READY.headers.set("retry-after", "1");

/** What the entry may hand the host besides config and logger. */
export interface ServiceExtras {
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

export function createService<R>(
  definition: ServiceDefinition<R>,
  config: ServiceConfig,
  log: Logger,
  nats: Omit<NatsConnectOptions, "servers" | "user" | "password" | "name">,
  /** What the instance's heartbeat says of it besides service and port (the entry adds pid, runtime). */
  describeInstance: Record<string, unknown> = {},
  extras: ServiceExtras = {},
): RunningService {
  const metrics = createMetrics(config.service);
  if (extras.logShipping) metrics.watchLogShipping(extras.logShipping);
  if (extras.droppedSpans) metrics.watchDroppedSpans(extras.droppedSpans);
  const instanceId = extras.instanceId ?? crypto.randomUUID();
  let runtime: R | undefined;
  let nc: NatsConnection | undefined;
  let consumers: RunningConsumers | undefined;
  const background: Array<() => Promise<void>> = [];
  let connected = false;
  let started = false;
  let stopping = false;
  let readiness: ReadinessState | undefined;
  // `ready` (declared below) is what /readyz answers: orderstream_ready in /metrics is the same.
  metrics.watchReadiness(() => ({ ready: ready(), store: readiness?.storeUsage() }));

  const app = new Hono();
  app.use(httpServerSpans({ connection: extras.connection }));
  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    metrics.httpAnswered(c.req.method, routePath(c), String(c.res.status), (performance.now() - started) / 1000);
  });
  // Security headers on every answer (errors included) and a 10 s deadline: shared/http/hardening.ts.
  app.use(...hardening());
  app.get(
    "/healthz",
    describeRoute({
      tags: ["operations"],
      summary: "Liveness: 200 while the process runs",
      responses: { 200: jsonResponse("The process runs.", HealthBody) },
    }),
    (c) => c.json({ status: "ok", service: config.service } satisfies Health),
  );
  app.get(
    "/readyz",
    describeRoute({
      tags: ["operations"],
      summary: "Readiness: 200 only while connected to NATS with the consumers bound",
      responses: {
        200: jsonResponse("Ready.", ReadinessBody),
        503: jsonResponse("Not ready (yet, or any more): not connected to NATS, still starting, or draining.", ReadinessBody),
      },
    }),
    (c) => {
      const ok = ready();
      const report = readiness?.report();
      const body: Readiness = {
        status: ok ? "ready" : "not ready",
        nats: report?.checks.nats.ok ? "connected" : "disconnected",
        ...(report ? { checks: report.checks } : {}),
      };
      return c.json(body, ok ? 200 : 503);
    },
  );
  app.get(
    "/metrics",
    describeRoute({
      tags: ["operations"],
      summary: "Prometheus metrics (text exposition format)",
      responses: {
        200: { description: "The metrics; docs/operations.md lists them.", content: { "text/plain": { schema: { type: "string" } } } },
      },
    }),
    async (c) => {
      c.header("content-type", metrics.registry.contentType);
      return c.body(await metrics.registry.metrics());
    },
  );
  definition.routes?.(
    app,
    () => {
      if (runtime === undefined || !connected) throw NOT_READY;
      return runtime;
    },
    config,
  );
  let asyncApi: AsyncApiDocument | undefined;
  app.get(
    "/asyncapi.json",
    describeRoute({
      tags: ["documentation"],
      summary: "The AsyncAPI 3.0 document of the events this service sends and receives over NATS",
      responses: { 200: jsonResponse("The document (nats/asyncapi.ts).", AsyncApiBody) },
    }),
    (c) => c.json((asyncApi ??= generateAsyncApiDocument(config.service, { version: API_VERSION }))),
  );
  const api = definition.api?.(config);
  serveApiDocuments(app, {
    title: `orderstream ${config.service} service`,
    description: api?.description ?? `The ${config.service} service's operational routes.`,
    version: API_VERSION,
    bearerAuth: api?.bearerAuth,
    servers: [defaultServer(config.service)],
  });
  // A fixed path (/healthz, /orders, …) asked with another method is 405 with `Allow` (RFC 9110);
  // anything else, /orders/{id} with another method included, is 404 (shared/http/allowed-methods.ts).
  let allowed: ((path: string) => string[]) | undefined;
  app.notFound((c) => {
    allowed ??= allowedMethods(app.routes);
    const methods = allowed(c.req.path);
    if (methods.length > 0 && !methods.includes(c.req.method)) {
      const problem = new HttpProblem(
        405,
        "method-not-allowed",
        `${JSON.stringify(c.req.path.slice(0, 200))} answers ${methods.join(", ")} only.`,
      );
      problem.headers.set("allow", methods.join(", "));
      return problemResponse(problem, c.req.path);
    }
    return problemResponse(new HttpProblem(404, "not-found", `No route for ${c.req.method} ${JSON.stringify(c.req.path.slice(0, 200))}.`));
  });
  app.onError((err, c: Context) => {
    if (err instanceof HttpProblem) return problemResponse(err, c.req.path);
    // Hono's middleware (hono/bearer-auth) throws its answer in an HTTPException: the routes build
    // those answers as problem+json; one without its own Response becomes one here.
    if (err instanceof HTTPException) {
      return err.res
        ? err.getResponse()
        : problemResponse(new HttpProblem(err.status, "http-error", err.message || "The request was refused."), c.req.path);
    }
    const full = storeFullProblem(err);
    if (full) {
      const refusal = storeRefusal(err)!;
      readiness?.storeRefused(refusal);
      log.warn(
        { err, path: c.req.path, code: refusal.code, ...traceFields(requestSpan(c)) },
        "the event store is full: a write was refused",
      );
      return problemResponse(full, c.req.path);
    }
    const unavailable = unavailableProblem(err);
    if (unavailable) {
      log.warn({ err, path: c.req.path, ...traceFields(requestSpan(c)) }, "NATS did not answer a request in time");
      return problemResponse(unavailable, c.req.path);
    }
    // Never leak internals: the log has the detail, the client a reference to the trace.
    log.error({ err, path: c.req.path, ...traceFields(requestSpan(c)) }, "unhandled error in a route");
    return problemResponse(new HttpProblem(500, "internal", "The request failed on our side; it has been logged."));
  });

  /**
   * Runs one idempotent start-up step, again while NATS does not answer (a server restarting or a
   * reconnect in progress), for up to START_STEP_RETRY_MS; the instance is ready only when every
   * step is done, so a ready instance never dies of its own start-up.
   */
  async function untilNatsAnswers<T>(step: string, fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + START_STEP_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!(natsUnavailable(err) || storeRefusal(err)) || stopping || nc?.isClosed() || Date.now() > deadline) throw err;
        log.warn({ err, attempt }, `${step}: NATS did not answer; trying again`);
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** attempt)));
      }
    }
  }

  function ready(): boolean {
    return (readiness?.ready() ?? false) && started && !stopping;
  }

  async function watchStatus(conn: NatsConnection): Promise<void> {
    for await (const status of conn.status()) {
      if (status.type === "disconnect") {
        connected = false;
        log.warn({ server: status.server }, "disconnected from NATS; reconnecting");
      } else if (status.type === "reconnect") {
        connected = true;
        log.info({ server: status.server }, "reconnected to NATS");
      }
    }
  }

  return {
    app,
    ready,
    async start() {
      nc = await connectNats({
        ...nats,
        servers: config.natsServers,
        user: config.natsUser,
        password: config.natsPassword,
        name: `${config.service}-service`,
        // Replies come back on `_INBOX_<service>.…`: the auth config lets a service read only its own.
        inboxPrefix: inboxPrefixOf(config.service),
      });
      // Before anything else: an older server lacks what the consumers are built on.
      assertServerVersion(nc);
      connected = true;
      void watchStatus(nc);
      readiness = createReadiness({
        probe: await createJetStreamProbe(nc, PROBE_TIMEOUT_MS),
        storeGatesReadiness: definition.unreadyWhenStoreFull === true,
        intervalMs: PROBE_INTERVAL_MS,
        onChange: (check, state) =>
          state.ok
            ? log.info({ check }, `readiness check ${check} passes`)
            : log.warn({ check, detail: state.detail }, `readiness check ${check} fails`),
      });
      const js = jetstream(nc);
      const jsm = await jetstreamManager(nc);
      const { topology } = config;
      const streamLimits = {
        ordersMaxBytes: config.ordersMaxBytes,
        notificationsMaxAgeMs: config.notificationsMaxAgeMs,
        compression: config.streamCompression,
      };
      await untilNatsAnswers("creating the ORDERS streams", () => ensureOrderStreams(jsm, config.ordersReplicas, streamLimits, topology));
      // From here on the probe watches the server (before, ORDERS might just not exist yet).
      readiness.start();
      try {
        const changed = await updateOrderStreamLimits(jsm, config.ordersReplicas, streamLimits);
        if (changed.length > 0) log.info({ streams: changed, ...streamLimits }, "updated the streams' limits and compression in place");
      } catch (err) {
        // Not fatal: the streams work as they are; with nats/auth/ only the admin may change them.
        log.warn(
          { err, ...streamLimits },
          "could not update the streams' limits in place; apply them as the NATS admin (docs/operations.md, Sizing the store)",
        );
      }
      await untilNatsAnswers("creating the partition consumers", () =>
        ensurePartitionConsumers(jsm, ORDERS_STREAM, config.service, topology),
      );

      if (topology.kind !== "single") await untilNatsAnswers("setting up the site links", () => ensureSiteLinks(jsm, topology));
      let hubLink: HubLink | undefined;
      if (topology.kind === "site") {
        // Local reads and a probe that never blocks: the site takes orders with the hub away.
        hubLink = await watchHubLink({
          nc,
          jsm,
          hubDomain: topology.hubDomain,
          onChange: (s) =>
            s.up
              ? log.info({ hub: topology.hubDomain, pendingEvents: s.pendingEvents }, "the hub answers: orders go on to it")
              : log.warn(
                  { hub: topology.hubDomain, pendingEvents: s.pendingEvents },
                  "the hub does not answer: orders are taken and wait here",
                ),
        });
        const link = hubLink;
        metrics.watchHubLink(topology.hubDomain, () => link.state());
        background.push(async () => link.stop());
      }
      const instances = await untilNatsAnswers("creating the instances bucket", () =>
        ensureBucket(nc!, jsm, BUCKETS.instances, bucketOptions.instances),
      );
      const streamPublisher = createJetStreamPublisher(nc, {
        onStoreRefused: (refusal) => {
          metrics.writeRefused(refusal.reason);
          readiness?.storeRefused(refusal);
        },
      });
      const publisher = createEventPublisher(streamPublisher, jsm, {
        onPublished: (eventType, result) => metrics.eventPublished(eventType, result),
      });
      const infra: Infra = {
        nc,
        js,
        jsm,
        publisher,
        streamPublisher,
        history: (orderId) => readOrderEvents(jsm, orderId),
        config,
        log,
        metrics,
        instanceId,
        hubLink,
      };
      const r = await untilNatsAnswers("setting up the service's buckets", () => definition.setup(infra));
      runtime = r;
      await untilNatsAnswers("creating the dead-letter streams", () => ensureDeadLetterStreams(jsm, config.ordersReplicas));
      const suspects = await untilNatsAnswers("creating the crash suspects bucket", () =>
        ensureBucket(nc!, jsm, BUCKETS.crashSuspects, bucketOptions.crashSuspects),
      );
      const handlers = extras.crashOn ? crashingOn(definition.handlers(r), extras.crashOn, log) : definition.handlers(r);
      consumers = await untilNatsAnswers("taking this instance's partitions", () =>
        startPartitionedConsumers({
          js,
          jsm,
          instances,
          service: config.service,
          instanceId,
          handlers,
          log,
          retryDelayMs: (n) => defaultRetryDelayMs(n, config.handlerRetryBaseMs),
          suspects: kvCrashSuspects(suspects, config.service),
          crashLimit: config.crashLimit,
          onHandled: ({ eventType, outcome, handlerSeconds }) => metrics.eventHandled(eventType, outcome, handlerSeconds),
          giveUp: (m) =>
            writeDeadLetter(js, {
              subject: m.subject,
              streamSeq: m.seq,
              data: m.data,
              headers: m.headers,
              consumer: m.consumer,
              reason: m.reason,
              deliveries: m.attempts,
              source: "service",
            }),
          describe: () => ({ service: config.service, port: config.port, ...describeInstance }),
          topology,
        }),
      );
      // Read lazily by /metrics (cached 5 s), so an idle service asks JetStream nothing.
      metrics.watchJetStream(() => readJetStreamStats(jsm, config.service), {
        onError: (err) => log.warn({ err }, "could not read JetStream consumer info for /metrics"),
      });
      background.push(await untilNatsAnswers("starting the advisory processor", () => startAdvisoryProcessor(js, jsm, log)));
      background.push(
        await untilNatsAnswers("starting the dead-letter retry processor", () =>
          startRetryProcessor({ js, jsm, service: config.service, handlers, log }),
        ),
      );
      started = true;
      readiness.setConsumersBound(true);
      // One round now, so that start() resolves with /readyz telling what is (the streams exist now).
      await readiness.probeOnce();
      log.info({ servers: config.natsServers }, "connected to NATS; consumers bound");
    },
    async stop() {
      stopping = true;
      readiness?.setConsumersBound(false, "draining");
      await consumers?.stop();
      await Promise.all(background.map((stop) => stop()));
      readiness?.stop();
      if (nc && !nc.isClosed()) await nc.drain();
    },
  };
}
