/**
 * One service instance's NATS side, in order: connect, check the server, create what the service
 * needs (streams, consumers, buckets, site links; each step retried while NATS does not answer),
 * set the service up, take its partitions, start the dead-letter processors; then readiness. And
 * the drain on stop: no new pulls, in-flight messages settled, connection drained.
 */
import { keepingSlowOrderTraces, timesOrders } from "./slow-order-traces.ts";
import { outcomeSampling } from "../otel/outcome-sampling.ts";
import { connectTraceKeeping } from "../nats/trace-keeping.ts";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { ServiceConfig } from "../shared/config.ts";
import type { Logger } from "../shared/logger.ts";
import { natsUnavailable } from "../shared/http/hardening.ts";
import { storeRefusal } from "../shared/store-refusal.ts";
import { createJetStreamProbe } from "../nats/jetstream-probe.ts";
import { connectNats, inboxPrefixOf } from "../nats/connect.ts";
import { assertServerVersion } from "../nats/server-version.ts";
import { bucketOptions } from "../nats/definitions.ts";
import {
  ensureBucket,
  ensureDeadLetterStreams,
  ensureOrderStreams,
  ensurePartitionConsumers,
  updateOrderStreamLimits,
} from "../nats/setup.ts";
import { createEventPublisher } from "../nats/publish-event.ts";
import { createJetStreamPublisher } from "../nats/jetstream-publisher.ts";
import { startPartitionedConsumers, type RunningConsumers } from "../nats/partitioned-consumer.ts";
import { defaultRetryDelayMs } from "../nats/delivery.ts";
import { readOrderEvents } from "../nats/order-history.ts";
import { BUCKETS, CONSUMED_EVENT_TYPES, ORDERS_STREAM } from "../nats/subjects.ts";
import { writeDeadLetter } from "../nats/dead-letter-write.ts";
import { startAdvisoryProcessor } from "../nats/dead-letter-advisories.ts";
import { startRetryProcessor } from "../nats/dead-letter-retry.ts";
import { kvCrashSuspects } from "../nats/crash-suspects.ts";
import { readJetStreamStats } from "../nats/jetstream-stats.ts";
import { ensureSiteLinks, watchHubLink, type HubLink } from "../nats/sites.ts";
import type { ServiceMetrics } from "./metrics.ts";
import { createReadiness, type Readiness } from "./readiness.ts";
import { crashingOn, type CrashOn } from "./crash-hook.ts";
import type { EntryNatsOptions, Infra, ServiceDefinition } from "./service-definition.ts";

/** Readiness probe: one round every second, each round trip given up after 2.5 s (503 within 5 s of the server not answering). */
const PROBE_INTERVAL_MS = 1_000;
const PROBE_TIMEOUT_MS = 2_500;

/** How long a start-up step keeps trying while NATS does not answer. */
const START_STEP_RETRY_MS = 60_000;

export interface NatsLifecycleOptions<R> {
  definition: ServiceDefinition<R>;
  config: ServiceConfig;
  log: Logger;
  metrics: ServiceMetrics;
  nats: EntryNatsOptions;
  describeInstance: Record<string, unknown>;
  instanceId: string;
  crashOn?: CrashOn;
}

/** What the HTTP app reads of the NATS side (host/http-app.ts). */
export interface ServiceState<R> {
  /** What /readyz answers: the probe passes, the consumers are bound, and no drain has begun. */
  ready(): boolean;
  /** The background probe, once connected (undefined before). */
  readiness(): Readiness | undefined;
  /** The service's runtime while connected to NATS (undefined before set-up, and while disconnected). */
  connectedRuntime(): R | undefined;
}

export interface NatsLifecycle<R> extends ServiceState<R> {
  /** Connects, sets up and starts consuming; resolves when the service is ready. */
  start(): Promise<void>;
  /** Drains: no new pulls, in-flight messages settled, connection drained. */
  stop(): Promise<void>;
}

export function createNatsLifecycle<R>(opts: NatsLifecycleOptions<R>): NatsLifecycle<R> {
  const { definition, config, log, metrics, instanceId } = opts;
  let runtime: R | undefined;
  let nc: NatsConnection | undefined;
  let consumers: RunningConsumers | undefined;
  const background: Array<() => Promise<void>> = [];
  let connected = false;
  let started = false;
  let stopping = false;
  let readiness: Readiness | undefined;

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
    ready: () => (readiness?.ready() ?? false) && started && !stopping,
    readiness: () => readiness,
    connectedRuntime: () => (connected ? runtime : undefined),
    async start() {
      nc = await connectNats({
        ...opts.nats,
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
      const traceKeeping = connectTraceKeeping(nc);
      background.push(() => traceKeeping.stop());
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
        ensurePartitionConsumers(jsm, ORDERS_STREAM, config.service, topology, config.lanes),
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
      let handlers = opts.crashOn ? crashingOn(definition.handlers(r), opts.crashOn, log) : definition.handlers(r);
      if (outcomeSampling() && timesOrders(CONSUMED_EVENT_TYPES[config.service])) handlers = keepingSlowOrderTraces(handlers);
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
          describe: () => ({ service: config.service, port: config.port, ...opts.describeInstance }),
          topology,
          lanes: config.lanes,
        }),
      );
      // Read lazily by /metrics (cached 5 s), so an idle service asks JetStream nothing.
      metrics.watchJetStream(() => readJetStreamStats(jsm, config.service, config.lanes), {
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
