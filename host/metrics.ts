/**
 * Prometheus metrics of a service (prom-client: the de-facto Prometheus client for Node, text
 * format with HELP/TYPE, default process metrics including event-loop lag; works under Deno's Node
 * compatibility). One registry per service process.
 */
import { outcomeSampling } from "../otel/outcome-sampling.ts";
import client from "prom-client";
import type { LogShippingStats } from "../shared/log-shipper.ts";
import { DEAD_LETTERS_FILTER, DLQ_STREAM } from "../nats/subjects.ts";

export interface ServiceMetrics {
  registry: client.Registry;
  httpRequests: client.Counter<"method" | "route" | "status">;
  httpDuration: client.Histogram<"method" | "route" | "status">;
  eventsPublished: client.Counter<"event_type" | "result">;
  eventsHandled: client.Counter<"event_type" | "outcome">;
  handlerDuration: client.Histogram<"event_type">;
  /** ORDER_CREATED → SHIPPING_READY (their occurredAt), observed once per order by the shipping service. */
  orderLatency: client.Histogram;
  /** One event handled (ok, retried…), and how long its handler ran when it was called. */
  eventHandled(eventType: string, outcome: string, handlerSeconds?: number): void;
  eventPublished(eventType: string, result: string): void;
  httpAnswered(method: string, route: string, status: string, seconds: number): void;
  /**
   * Makes the JetStream gauges (consumer pending / ack pending / redelivered, DLQ size) read from
   * `read`, at most once per `maxAgeMs` however often Prometheus scrapes.
   */
  watchJetStream(read: () => Promise<JetStreamStats>, opts?: { maxAgeMs?: number; onError?: (err: unknown) => void }): void;
  /** Makes the log shipping metrics read the shipper's totals (shared/log-shipper.ts) at each scrape. */
  watchLogShipping(read: () => LogShippingStats): void;
  /** Reads the trace SDK's dropped spans (otel/diagnostics.ts) at each scrape. */
  watchDroppedSpans(read: () => number): void;
  /** Makes `orderstream_ready` and the store gauges read the readiness probe's last answers (host/readiness.ts). */
  watchReadiness(read: () => ReadinessSnapshot): void;
  /** A JetStream write refused for lack of room, by reason (shared/store-refusal.ts). */
  writeRefused(reason: string): void;
  /**
   * At a site (nats/sites.ts): registers the hub link gauges, read from `read` at each scrape.
   * Never called elsewhere, so a single-site service exposes no hub metrics.
   */
  watchHubLink(hub: string, read: () => { up: boolean; pendingEvents: number | null }): void;
}

/** What the readiness gauges show: the probe's verdict and the account's storage (absent before the first read). */
export interface ReadinessSnapshot {
  ready: boolean;
  store?: { used: number; limit: number };
}

/** What the JetStream gauges show; filled from deliveries, consumer and stream info (nats/jetstream-stats.ts). */
export interface JetStreamStats {
  consumers: { consumer: string; pending: number; ackPending: number; redelivered: number }[];
  /** Dead letters (ORDERS_DLQ `dlq.orders.>`) of this service's consumers. */
  deadLetters: number;
}

export function createMetrics(service: string): ServiceMetrics {
  const registry = new client.Registry();
  registry.setDefaultLabels({ service });
  // The process and Node.js metrics keep their standard names (process_cpu_seconds_total,
  // nodejs_eventloop_lag_seconds, …) so the community Node.js dashboards read them as they are;
  // only the project's own metrics carry the orderstream_ prefix.
  client.collectDefaultMetrics({ register: registry });
  // prom-client also exports gauges named *_total (nodejs_active_handles_total, …), which
  // `promtool check metrics` rejects: only counters end in _total. Their per-type twins
  // (nodejs_active_handles{type}) stay, so the totals are one sum() away.
  for (const metric of registry.getMetricsAsArray()) {
    const type = (metric as { type: unknown }).type;
    if (type !== "counter" && metric.name.endsWith("_total")) registry.removeSingleMetric(metric.name);
  }
  // One cached read feeds all JetStream gauges: a scrape costs at most one round of info requests.
  let read: (() => Promise<JetStreamStats>) | undefined;
  let maxAgeMs = 5_000;
  let onError: (err: unknown) => void = () => {};
  let cached: { at: number; stats: Promise<JetStreamStats | null> } | undefined;
  const jetStreamStats = (): Promise<JetStreamStats | null> => {
    if (!read) return Promise.resolve(null);
    const now = Date.now();
    if (!cached || now - cached.at >= maxAgeMs) {
      cached = {
        at: now,
        stats: read().catch((err: unknown) => {
          onError(err);
          return null;
        }),
      };
    }
    return cached.stats;
  };
  const consumerGauge = (name: string, help: string, pick: (c: JetStreamStats["consumers"][number]) => number) =>
    new client.Gauge({
      name,
      help,
      labelNames: ["consumer"],
      registers: [registry],
      async collect() {
        const stats = await jetStreamStats();
        // No fresh numbers (NATS away): keep the last ones rather than report a false zero.
        for (const c of stats?.consumers ?? []) this.set({ consumer: c.consumer }, pick(c));
      },
    });
  consumerGauge(
    "orderstream_consumer_pending_messages",
    "Messages of the consumer's partition not yet delivered (JetStream num_pending).",
    (c) => c.pending,
  );
  consumerGauge(
    "orderstream_consumer_ack_pending_messages",
    "Messages delivered and not yet acknowledged (JetStream num_ack_pending).",
    (c) => c.ackPending,
  );
  consumerGauge(
    "orderstream_consumer_redelivered_messages",
    "Of those, the ones delivered more than once (JetStream num_redelivered).",
    (c) => c.redelivered,
  );
  new client.Gauge({
    name: "orderstream_dlq_messages",
    help: `Dead letters of this service's consumers in ${DLQ_STREAM} (${DEAD_LETTERS_FILTER}).`,
    registers: [registry],
    async collect() {
      const stats = await jetStreamStats();
      if (stats) this.set(stats.deadLetters);
    },
  });

  // Log shipping to VictoriaLogs (host/run-service.ts): totals kept by the shipper, read at each
  // scrape. Zero while the service ships nothing (VICTORIA_LOGS_URL unset).
  let logStats: (() => LogShippingStats) | undefined;
  new client.Counter({
    name: "orderstream_log_lines_shipped_total",
    help: "Log lines VictoriaLogs accepted from this process (VICTORIA_LOGS_URL).",
    registers: [registry],
    collect() {
      const stats = logStats?.();
      this.reset();
      this.inc(stats?.shipped ?? 0);
    },
  });
  new client.Counter({
    name: "orderstream_log_lines_dropped_total",
    help: "Log lines not shipped to VictoriaLogs: buffer_full (it did not answer for too long), rejected (it refused the batch). They still went to stdout.",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      const stats = logStats?.();
      this.reset();
      this.inc({ reason: "buffer_full" }, stats?.dropped.bufferFull ?? 0);
      this.inc({ reason: "rejected" }, stats?.dropped.rejected ?? 0);
    },
  });
  new client.Counter({
    name: "orderstream_log_ship_requests_failed_total",
    help: "Requests to VictoriaLogs that failed (no answer, timeout, 5xx) and were retried.",
    registers: [registry],
    collect() {
      const stats = logStats?.();
      this.reset();
      this.inc(stats?.failedRequests ?? 0);
    },
  });
  let droppedSpans: (() => number) | undefined;
  new client.Counter({
    name: "orderstream_trace_spans_dropped_total",
    help: "Spans the trace SDK dropped because its export queue was full (exports could not keep up): traces of those moments miss spans.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(droppedSpans?.() ?? 0);
    },
  });
  // The outcome sampling policy (otel/outcome-sampling.ts), when OTEL_TRACES_SAMPLER turns it on.
  new client.Counter({
    name: "orderstream_trace_spans_sampled_out_total",
    help: "Spans recorded but not exported by the outcome sampling policy: their trace was a happy order's, not picked by id, and nobody kept it.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(outcomeSampling()?.stats().sampledOut ?? 0);
    },
  });
  new client.Counter({
    name: "orderstream_traces_kept_total",
    help: "Traces the outcome sampling policy kept whole here: an error, a failed request, the compensating path, a slow or cancelled order (decided here or announced by another instance).",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(outcomeSampling()?.stats().keptTraces ?? 0);
    },
  });
  new client.Gauge({
    name: "orderstream_log_lines_buffered",
    help: "Log lines waiting to be shipped to VictoriaLogs (bounded by VICTORIA_LOGS_BUFFER_LINES).",
    registers: [registry],
    collect() {
      this.set(logStats?.().buffered ?? 0);
    },
  });

  // Readiness and the store (host/readiness.ts): what the background probe found last, read at each
  // scrape, so a scrape asks NATS nothing. The alert rules use these exact names.
  let readiness: (() => ReadinessSnapshot) | undefined;
  new client.Gauge({
    name: "orderstream_ready",
    help: "1 while the instance is ready (NATS answers, JetStream serves ORDERS, consumers bound, and for the order service room in the store), else 0; /readyz says which check failed.",
    registers: [registry],
    collect() {
      this.set(readiness?.().ready ? 1 : 0);
    },
  });
  new client.Gauge({
    name: "orderstream_jetstream_store_used_bytes",
    help: "JetStream file storage the account uses (account info, read by the readiness probe).",
    registers: [registry],
    collect() {
      const store = readiness?.().store;
      if (store) this.set(store.used);
    },
  });
  new client.Gauge({
    name: "orderstream_jetstream_store_limit_bytes",
    help: "The account's JetStream file storage limit; 0 when the account has none (the server's max_file_store then binds, not visible here).",
    registers: [registry],
    collect() {
      const store = readiness?.().store;
      if (store) this.set(store.limit);
    },
  });
  const writesRefused = new client.Counter({
    name: "orderstream_jetstream_writes_refused_total",
    help: "Writes JetStream refused for lack of room, by reason: server_storage (max_file_store), server_memory, account_limit, stream_limit (a stream's max_bytes / max_msgs).",
    labelNames: ["reason"],
    registers: [registry],
  });

  const orderLatency = new client.Histogram({
    name: "orderstream_order_e2e_latency_seconds",
    help: "Time from an order's ORDER_CREATED to its SHIPPING_READY (event occurredAt), observed by the shipping service when it ships.",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const httpRequests = new client.Counter({
    name: "orderstream_http_requests_total",
    help: "HTTP requests answered, by route and status.",
    labelNames: ["method", "route", "status"],
    registers: [registry],
    collect() {
      addTallies(this, httpTallies);
    },
  });
  const httpDuration = new client.Histogram({
    name: "orderstream_http_request_duration_seconds",
    help: "HTTP request duration, by route and status.",
    labelNames: ["method", "route", "status"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const eventsPublished = new client.Counter({
    name: "orderstream_events_published_total",
    help: "Order events published, by type and result (new, duplicate, or error).",
    labelNames: ["event_type", "result"],
    registers: [registry],
    collect() {
      addTallies(this, publishedTallies);
    },
  });
  const eventsHandled = new client.Counter({
    name: "orderstream_events_handled_total",
    help: "Order events received, by type and outcome (ok, retried, dead_lettered, rejected).",
    labelNames: ["event_type", "outcome"],
    registers: [registry],
    collect() {
      addTallies(this, handledTallies);
    },
  });
  const handlerDuration = new client.Histogram({
    name: "orderstream_handler_duration_seconds",
    help: "Time to handle one order event, effects included.",
    labelNames: ["event_type"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  // The per-event counters are counted here in plain numbers and added to prom-client's at each
  // scrape: its inc() builds a string from the label set and an object per call, on every event of
  // every service (bench/allocations.ts). Series are found by label values, without a key string.
  const httpTallies: Tally[] = [];
  const publishedTallies: Tally[] = [];
  const handledTallies: Tally[] = [];
  const handledTally = lookup2((event_type, outcome) => tally(handledTallies, { event_type, outcome }));
  const publishedTally = lookup2((event_type, result) => tally(publishedTallies, { event_type, result }));
  const httpTally = lookup3((method, route, status) => tally(httpTallies, { method, route, status }));
  // Histograms have no such way in; a label set's child, made once, saves at least its lookup.
  const handlerTimer = lookup1((event_type) => handlerDuration.labels({ event_type }));
  const httpTimer = lookup3((method, route, status) => httpDuration.labels({ method, route, status }));

  return {
    registry,
    watchJetStream(reader, opts = {}) {
      read = reader;
      maxAgeMs = opts.maxAgeMs ?? 5_000;
      onError = opts.onError ?? (() => {});
      cached = undefined;
    },
    watchLogShipping(reader) {
      logStats = reader;
    },
    watchDroppedSpans(reader) {
      droppedSpans = reader;
    },
    watchReadiness(reader) {
      readiness = reader;
    },
    writeRefused(reason) {
      writesRefused.inc({ reason });
    },
    watchHubLink(hub, readLink) {
      new client.Gauge({
        name: "orderstream_hub_link_up",
        help: "1 while the hub's JetStream answers this site through the leaf link (probed every 2 s), else 0: orders are still taken and wait here.",
        labelNames: ["hub"],
        registers: [registry],
        collect() {
          this.set({ hub }, readLink().up ? 1 : 0);
        },
      });
      new client.Gauge({
        name: "orderstream_hub_pending_events",
        help: "Events this site stored that the hub has not confirmed yet (its forward consumer's pending and unacknowledged); an order placed during an outage adds one.",
        labelNames: ["hub"],
        registers: [registry],
        collect() {
          const pending = readLink().pendingEvents;
          if (pending !== null) this.set({ hub }, pending);
        },
      });
    },
    orderLatency,
    httpRequests,
    httpDuration,
    eventsPublished,
    eventsHandled,
    handlerDuration,
    eventHandled(eventType, outcome, handlerSeconds) {
      handledTally(eventType, outcome).count++;
      if (handlerSeconds !== undefined) handlerTimer(eventType).observe(handlerSeconds);
    },
    eventPublished(eventType, result) {
      publishedTally(eventType, result).count++;
    },
    httpAnswered(method, route, status, seconds) {
      httpTally(method, route, status).count++;
      httpTimer(method, route, status).observe(seconds);
    },
  };
}

/** One label set of a counter, counted in a plain number; `added`: how much of it prom-client has. */
interface Tally {
  labels: Record<string, string>;
  count: number;
  added: number;
}

function tally(list: Tally[], labels: Record<string, string>): Tally {
  const t = { labels, count: 0, added: 0 };
  list.push(t);
  return t;
}

/** Adds what was counted since the last scrape; the counter's own inc() calls (tests) add up with it. */
function addTallies(counter: client.Counter<string>, list: readonly Tally[]): void {
  for (const t of list) {
    if (t.count === t.added) continue;
    counter.inc(t.labels, t.count - t.added);
    t.added = t.count;
  }
}

/** What `make` made for a label value, made once. */
function lookup1<T>(make: (a: string) => T): (a: string) => T {
  const table = new Map<string, T>();
  return (a) => {
    let value = table.get(a);
    if (value === undefined) table.set(a, (value = make(a)));
    return value;
  };
}

/** The same for two label values. */
function lookup2<T>(make: (a: string, b: string) => T): (a: string, b: string) => T {
  const table = new Map<string, (b: string) => T>();
  return (a, b) => {
    let inner = table.get(a);
    if (inner === undefined) table.set(a, (inner = lookup1((b2) => make(a, b2))));
    return inner(b);
  };
}

/** The same for three. */
function lookup3<T>(make: (a: string, b: string, c: string) => T): (a: string, b: string, c: string) => T {
  const table = new Map<string, (b: string, c: string) => T>();
  return (a, b, c) => {
    let inner = table.get(a);
    if (inner === undefined) table.set(a, (inner = lookup2((b2, c2) => make(a, b2, c2))));
    return inner(b, c);
  };
}
