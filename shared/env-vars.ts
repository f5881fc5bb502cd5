/**
 * Every environment variable the project reads, in one table: its name, its default and what it
 * means. shared/config.ts takes a service's defaults from here (a default is the text a user could
 * set, parsed by the same code as a set value), `npm run docs` writes docs/reference/environment.md
 * from it, and scripts/reference/environment.unit.spec.ts fails when code reads a variable that
 * is not in it.
 */

/** Who reads a variable: every service (shared/config.ts, otel/sdk.ts; the CLI too), `npm start`, nats-server's configs in nats/, or the tool finder. */
export type EnvReader = "service" | "tracing" | "start" | "auth" | "sites" | "tools";

export interface EnvVar {
  /** The value used when the variable is unset or blank: the text a user could set. None: unset has a meaning of its own. */
  default?: string;
  /** How the default reads in the docs when it is not one plain value (per service, another variable's). */
  defaultText?: string;
  /** What it does, one or two sentences in Markdown. */
  meaning: string;
  reader: EnvReader;
}

/** The variables, in the order the reference lists them within each reader. */
export const ENV_VARS = {
  PORT: {
    reader: "service",
    defaultText: "3000 order, 3001 payment, 3002 shipping, 3003 notification, 3004 loyalty",
    meaning: "HTTP port.",
  },
  HOST: {
    reader: "service",
    default: "0.0.0.0",
    defaultText: "`0.0.0.0` (`npm start`: `127.0.0.1`)",
    meaning: "Interface the HTTP server listens on.",
  },
  NATS_URL: {
    reader: "service",
    default: "nats://127.0.0.1:4222",
    meaning:
      "Comma-separated server list: `nats://`, `tls://`, `host:port`, or over WebSocket `ws://` / `wss://` — one kind only ([WebSocket](../operations.md#websocket)).",
  },
  NATS_USER: { reader: "service", meaning: "User name, when the server asks for one (with `NATS_PASSWORD`)." },
  NATS_PASSWORD: { reader: "service", meaning: "Password of `NATS_USER`." },
  NATS_CREDS: { reader: "service", meaning: "A `.creds` file (JWT and NKey seed), instead of a user and password." },
  NATS_TLS_CA: {
    reader: "service",
    meaning:
      "PEM file of the CA that signed the server's certificate, for `tls://` (default: the system's CAs; `wss://` uses the runtime's trust store).",
  },
  NATS_TLS_CERT: { reader: "service", meaning: "PEM client certificate, when the server verifies clients (needs `NATS_TLS_KEY`)." },
  NATS_TLS_KEY: { reader: "service", meaning: "PEM key of `NATS_TLS_CERT`." },
  ORDERS_REPLICAS: {
    reader: "service",
    default: "1",
    meaning: "Replicas of the streams when first created: 1, 3 or 5 (3 on a cluster).",
  },
  ORDERS_MAX_BYTES: {
    reader: "service",
    default: "-1",
    defaultText: "`-1` (no limit)",
    meaning:
      "ORDERS `max_bytes` (`512M`, `10G`); when set, new orders are refused with 507 once it is reached — history is never dropped ([Sizing the store](../operations.md#sizing-the-store)).",
  },
  NOTIFICATIONS_MAX_AGE: {
    reader: "service",
    default: "30d",
    meaning: "How long NOTIFICATIONS keeps a notification (`12h`, `90d`; `0` forever).",
  },
  STREAM_COMPRESSION: {
    reader: "service",
    defaultText: "`s2` (nats/definitions.ts)",
    meaning: "Compression of the ORDERS and NOTIFICATIONS blocks on disk: `s2` or `none`.",
  },
  LANES: {
    reader: "service",
    default: "4",
    meaning:
      "How many durable consumers (lanes) a service reads ORDERS through: 1, 2, 4, 8 or 16, the same for every instance of a service. At most this many instances share a service's work; fewer cost less CPU per order ([Partitions, lanes and their owners](../design.md#partitions-lanes-and-their-owners)).",
  },
  CRASH_LIMIT: {
    reader: "service",
    default: "3",
    meaning: 'Process deaths while handling one message before it is dead-lettered ("crashed the consumer N times"), 1-100.',
  },
  HANDLER_RETRY_BASE_MS: {
    reader: "service",
    default: "250",
    meaning: "First pause before a failed handler is retried, in ms; it doubles per delivery up to 10 s.",
  },
  JAEGER_QUERY_URL: {
    reader: "service",
    default: "http://127.0.0.1:16686",
    meaning: "Where trace inspection (`GET /orders/{orderId}/trace`, the timeline page, `cli trace`) reads traces.",
  },
  VICTORIA_LOGS_URL: {
    reader: "service",
    defaultText: "— (`npm start` sets it when it runs VictoriaLogs)",
    meaning: "Where every service also ships its log lines (VictoriaLogs, JSON lines); unset: stdout only.",
  },
  VICTORIA_LOGS_QUERY_URL: {
    reader: "service",
    defaultText: "`VICTORIA_LOGS_URL` (the CLI: else `http://127.0.0.1:9428`)",
    meaning: "Where `cli logs` and the order page read log lines (with neither set, the page says they are not collected).",
  },
  VICTORIA_LOGS_BUFFER_LINES: {
    reader: "service",
    default: "20000",
    meaning: "Log lines held while VictoriaLogs does not answer; then dropped, and counted in `/metrics`.",
  },
  VICTORIA_LOGS_FLUSH_MS: {
    reader: "service",
    default: "1000",
    meaning: "The longest a log line waits for its batch, in ms (10-60000).",
  },
  LOG_LEVEL: { reader: "service", default: "info", meaning: "pino level: `trace`, `debug`, `info`, `warn`, `error`, `fatal` or `silent`." },
  PAYMENT_LIMIT: {
    reader: "service",
    default: "10000",
    meaning: "The simulated payment provider declines any order whose amount is above it.",
  },
  SHIPPING_UNAVAILABLE_SKUS: {
    reader: "service",
    default: "OUT-OF-STOCK",
    meaning: "Comma list; shipping fails an order holding any of these SKUs (set but blank: none).",
  },
  NOTIFY_WEBHOOK_URL: {
    reader: "service",
    meaning:
      "When set, each notification is also POSTed there as JSON (`Idempotency-Key: <eventId>`, and the order's `traceparent`: the POST is a CLIENT span of its trace).",
  },
  ORDER_API_TOKEN: {
    reader: "service",
    meaning:
      "When set, the order API asks `Authorization: Bearer <token>` (401 problem+json otherwise); health, readiness, metrics and the API documents stay open.",
  },
  SITE: {
    reader: "service",
    meaning: "The order service runs at this site (README, [Sites](../../README.md#sites)): its order ids and subjects name it.",
  },
  SITES: { reader: "service", meaning: "A hub's services: the sites whose orders they serve (comma list)." },
  HUB_DOMAIN: { reader: "service", default: "hub", meaning: "The hub's JetStream domain, as a site sees it." },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    reader: "tracing",
    meaning: "Traces go as OTLP over HTTP to `<endpoint>/v1/traces`; unset and without the next one, `npm start` points it at its Jaeger.",
  },
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: { reader: "tracing", meaning: "The full URL traces are POSTed to, instead of the above." },
  OTEL_EXPORTER_OTLP_PROTOCOL: {
    reader: "tracing",
    defaultText: "`http/json`",
    meaning: "`http/protobuf` sends protobuf instead of JSON (also `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`).",
  },
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: { reader: "tracing", meaning: "As `OTEL_EXPORTER_OTLP_PROTOCOL`, for traces only." },
  OTEL_TRACES_EXPORTER: {
    reader: "tracing",
    defaultText: "`otlp`",
    meaning: "`none` exports nothing (spans still get ids, so `traceparent` still flows).",
  },
  OTEL_SERVICE_NAME: {
    reader: "tracing",
    defaultText: "`order-service`, `payment-service`, `shipping-service`, `notification-service`",
    meaning: "The service name on its spans.",
  },
  OTEL_TRACES_SAMPLER: {
    reader: "tracing",
    defaultText: "`parentbased_always_on`",
    meaning:
      "OpenTelemetry's sampler names (with `OTEL_TRACES_SAMPLER_ARG`), and `orderstream_outcome`: every trace of a failed, compensated, cancelled or slow order exported whole, and a share of the happy ones ([Sampling by outcome](../operations.md#sampling-by-outcome)).",
  },
  OTEL_TRACES_SAMPLER_ARG: {
    reader: "tracing",
    meaning:
      "The sampler's argument: the ratio of `traceidratio`; for `orderstream_outcome` the share of happy orders' traces exported (default 0.1).",
  },
  TRACE_HOLD_SPANS: {
    reader: "tracing",
    default: "4096",
    meaning:
      "With `OTEL_TRACES_SAMPLER=orderstream_outcome`: how many spans a process holds while their orders' outcome is not known; past it the oldest happy traces' spans are let go.",
  },
  OTEL_PROPAGATORS: {
    reader: "tracing",
    defaultText: "`tracecontext,baggage`",
    meaning: "Which trace headers travel in HTTP and NATS headers: `tracecontext`, `baggage`, `b3`, `b3multi` or `none`.",
  },
  OTEL_NODE_RESOURCE_DETECTORS: {
    reader: "tracing",
    meaning: "Which resource detectors run (`all`, `none`, or names), as the Node SDK reads it.",
  },
  OTEL_BSP_SCHEDULE_DELAY: { reader: "tracing", meaning: "The batch span processor's delay between exports, in ms." },
  OTEL_BSP_MAX_QUEUE_SIZE: {
    reader: "tracing",
    meaning: "Spans the batch span processor holds at most; beyond, spans are dropped and counted in `/metrics`.",
  },
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: { reader: "tracing", meaning: "Spans per export at most." },
  OTEL_BSP_EXPORT_TIMEOUT: { reader: "tracing", meaning: "How long one export may take, in ms." },
  OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: {
    reader: "tracing",
    meaning: "Span limits: this and the other `OTEL_*_LIMIT` variables, as OpenTelemetry defines them.",
  },
  OTEL_METRICS_EXPORTER: {
    reader: "tracing",
    meaning: "Metrics are not exported over OTLP unless this asks for it (`/metrics` serves them).",
  },
  OTEL_LOGS_EXPORTER: { reader: "tracing", meaning: "Logs are not exported over OTLP unless this asks for it." },
  OTEL_LOG_LEVEL: { reader: "tracing", meaning: "The OpenTelemetry SDK's own log level; its warnings go to the service log." },
  OTEL_SDK_DISABLED: { reader: "tracing", meaning: "`true` turns tracing off altogether." },
  ORDER_PORT: {
    reader: "start",
    default: "3000",
    meaning: "The order service's port under `npm start` (also `PAYMENT_PORT` 3001, `SHIPPING_PORT` 3002, `NOTIFICATION_PORT` 3003).",
  },
  PAYMENT_PORT: { reader: "start", default: "3001", meaning: "The payment service's port under `npm start`." },
  SHIPPING_PORT: { reader: "start", default: "3002", meaning: "The shipping service's port under `npm start`." },
  NOTIFICATION_PORT: { reader: "start", default: "3003", meaning: "The notification service's port under `npm start`." },
  LOYALTY_PORT: { reader: "start", default: "3004", meaning: "The loyalty service's port under `npm start -- --with loyalty`." },
  NATS_PORT: { reader: "start", defaultText: "4222, or a free one when taken", meaning: "The port of the nats-server `npm start` runs." },
  NATS_SYNC_INTERVAL: {
    reader: "start",
    default: "always",
    meaning:
      "When `npm start`'s nats-server fsyncs: `always` (before every acknowledgement) or a duration such as `1s` ([Durability](../operations.md#durability)).",
  },
  ORDERSTREAM_NATS_AUTH: {
    reader: "start",
    defaultText: "on",
    meaning: "`off` runs `npm start`'s nats-server without its per-service users.",
  },
  ORDERSTREAM_DATA_DIR: { reader: "start", defaultText: "`.data/` in the checkout", meaning: "Where `npm start` keeps its state." },
  ORDER_NATS_PASSWORD: {
    reader: "auth",
    meaning:
      "The order service's NATS password, as nats-server reads it from its own environment (`pw-<48 hex>` from nats/auth/new-passwords.sh, or a bcrypt hash in double quotes).",
  },
  PAYMENT_NATS_PASSWORD: { reader: "auth", meaning: "The payment service's NATS password, as `ORDER_NATS_PASSWORD`." },
  SHIPPING_NATS_PASSWORD: { reader: "auth", meaning: "The shipping service's NATS password, as `ORDER_NATS_PASSWORD`." },
  NOTIFICATION_NATS_PASSWORD: { reader: "auth", meaning: "The notification service's NATS password, as `ORDER_NATS_PASSWORD`." },
  LOYALTY_NATS_PASSWORD: {
    reader: "auth",
    meaning: "The loyalty service's NATS password, as `ORDER_NATS_PASSWORD` (needed by the server config even while loyalty does not run).",
  },
  ADMIN_NATS_PASSWORD: { reader: "auth", meaning: "The `admin` user's password (the CLI, natscli), as `ORDER_NATS_PASSWORD`." },
  HUB_LEAF_PORT: {
    reader: "sites",
    meaning: "nats/sites/hub.conf: the port the hub takes its sites' leafnode connections on (the config also reads `HUB_DOMAIN`).",
  },
  HUB_WS_PORT: { reader: "sites", meaning: "nats/sites/hub.conf: the hub's WebSocket port for clients." },
  SITE_WS_PORT: {
    reader: "sites",
    meaning: "nats/sites/site.conf: the site's WebSocket port for clients (`NATS_URL=ws://…`; the config also reads `SITE` as its domain).",
  },
  HUB_LEAF_URL: { reader: "sites", meaning: "nats/sites/site.conf: the hub's leafnode URL, `nats-leaf://<hub>:7422`." },
  NATS_SERVER_BIN: {
    reader: "tools",
    meaning:
      "The `nats-server` to run; else `GOBIN`, `~/go/bin`, the PATH, `/usr/local/bin`, `/usr/sbin` — built with Go when none is found.",
  },
  NATS_CLI_BIN: { reader: "tools", meaning: "The natscli `nats` the tests run; else `GOBIN`, `~/go/bin`, the PATH." },
  JAEGER_BIN: { reader: "tools", meaning: "The Jaeger v2 binary `npm start` and the tests run; else `GOBIN`, `~/go/bin`, the PATH." },
  VICTORIA_LOGS_BIN: {
    reader: "tools",
    meaning: "The VictoriaLogs binary `npm start` and the tests run; else `GOBIN`, `~/go/bin`, the PATH.",
  },
  SETPRIV_BIN: {
    reader: "tools",
    meaning: "util-linux `setpriv`, which makes `npm start`'s children die with it; else `/usr/bin/setpriv`.",
  },
} as const satisfies Record<string, EnvVar>;

/** A variable's name. */
export type EnvName = keyof typeof ENV_VARS;

/** What `reader` means, as the reference's section titles. */
export const ENV_READERS: Record<EnvReader, { title: string; about: string }> = {
  service: { title: "Every service", about: "Read by shared/config.ts; the command line reads the NATS, Jaeger and VictoriaLogs ones." },
  tracing: { title: "Tracing, in every service", about: "OpenTelemetry's own variables, as otel/sdk.ts applies them." },
  start: { title: "npm start", about: "Read by scripts/start.ts and what it starts." },
  auth: {
    title: "nats-server with one user per service",
    about:
      "Read by nats-server from its own environment, for nats/auth/nats-server.auth.conf ([Security](../operations.md#security)); `npm start` sets them.",
  },
  sites: {
    title: "A hub's and a site's nats-server",
    about: "Read by nats-server for nats/sites/hub.conf and site.conf ([Sites](../operations.md#sites)); `npm run start:sites` sets them.",
  },
  tools: {
    title: "Finding the servers",
    about: "Read by scripts/nats-binary.ts and scripts/observability.ts, for `npm start`, the tests and .ci/run.",
  },
};

/** A variable's default as the text a user could set, or undefined when unset has a meaning of its own. */
export function envDefault(name: EnvName): string | undefined {
  const entry: EnvVar = ENV_VARS[name];
  return entry.default;
}
