/** Service configuration from environment variables: their names, defaults and meanings are the table in shared/env-vars.ts. */
import { DEFAULT_PORTS, type ServiceName } from "./services.ts";
import { ConfigError } from "./config-error.ts";
import { natsTransportOf } from "./nats-servers.ts";
import { isSiteName, SITE_NAME_PATTERN } from "./ids.ts";
import { type EnvName, envDefault } from "./env-vars.ts";

/** PEM contents for TLS to NATS (the entry reads the files: file access is runtime-specific). */
export interface NatsTlsOptions {
  /** CA bundle that signed the server's certificate (default: the system's CAs). */
  ca?: string;
  /** Client certificate and key, when the server verifies clients (`tls { verify: true }`). */
  cert?: string;
  key?: string;
}

// Each service's default port is in its manifest (services/<name>/manifest.ts).
export { DEFAULT_PORTS };

/**
 * The interface a service listens on without HOST: every one, as a container must (compose, the
 * image, `npm run service`). `npm start` on a laptop passes HOST=127.0.0.1 unless HOST is set.
 */
export const DEFAULT_HOST = envDefault("HOST")!;

/**
 * A URL to reach, from this machine, a server bound to `host`: the loopback for a wildcard
 * address, brackets around an IPv6 literal.
 * @example localUrlOf("0.0.0.0", 3000) // "http://127.0.0.1:3000"
 */
export function localUrlOf(host: string, port: number): string {
  const reachable = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${reachable.includes(":") ? `[${reachable}]` : reachable}:${port}`;
}

export interface ServiceConfig {
  service: ServiceName;
  /** HTTP listen address (HOST). */
  host: string;
  port: number;
  natsServers: string[];
  natsUser?: string;
  natsPassword?: string;
  natsCredsFile?: string;
  /** PEM files for TLS to NATS: CA of the server's certificate, and a client certificate and key. */
  natsTlsCaFile?: string;
  natsTlsCertFile?: string;
  natsTlsKeyFile?: string;
  ordersReplicas: number;
  jaegerQueryUrl: string;
  /** Where the service ships its log lines (VictoriaLogs base URL, VICTORIA_LOGS_URL); unset: stdout only. */
  victoriaLogsUrl?: string;
  /** Where the order page reads an order's log lines (VICTORIA_LOGS_QUERY_URL, else VICTORIA_LOGS_URL); unset: the page says logs are not collected. */
  victoriaLogsQueryUrl?: string;
  /** Log lines the shipper holds at most while VictoriaLogs does not answer (VICTORIA_LOGS_BUFFER_LINES). */
  logBufferLines: number;
  /** How long a log line waits at most for its batch (VICTORIA_LOGS_FLUSH_MS). */
  logFlushMs: number;
  paymentLimit: number;
  unavailableSkus: string[];
  notifyWebhookUrl?: string;
  orderApiToken?: string;
  logLevel: string;
  /** First retry delay of a failed handler; doubles per delivery up to 10 s. */
  handlerRetryBaseMs: number;
  /** ORDERS stream max_bytes (ORDERS_MAX_BYTES); -1 unlimited. */
  ordersMaxBytes: number;
  /** NOTIFICATIONS stream max_age in ms (NOTIFICATIONS_MAX_AGE); 0 keeps them forever. */
  notificationsMaxAgeMs: number;
  /** Process deaths while handling one message before it is dead-lettered (CRASH_LIMIT). */
  crashLimit: number;
  /** Durable consumers the service reads ORDERS through (LANES): one of LANE_COUNTS. */
  lanes: number;
  /** Compression of the ORDERS and NOTIFICATIONS blocks on disk (STREAM_COMPRESSION); unset: the default of nats/definitions.ts. */
  streamCompression?: "s2" | "none";
  /** Where this service runs among sites (SITE, SITES, HUB_DOMAIN); `single` unless one is set. */
  topology: Topology;
}

/**
 * Where a service runs (README "Sites"): alone (`single`, nothing set: the one-server system), at
 * the hub that sources every listed site (`SITES=edge1,edge2`), or at a site (`SITE=edge1`, the
 * order API on the site's leaf server, whose JetStream domain is the site's name; the hub's domain
 * is HUB_DOMAIN, default `hub`).
 */
export type Topology = { kind: "single" } | { kind: "hub"; sites: readonly string[] } | { kind: "site"; site: string; hubDomain: string };

/** The hub's JetStream domain unless HUB_DOMAIN says otherwise. */
export const DEFAULT_HUB_DOMAIN = envDefault("HUB_DOMAIN")!;

export { ConfigError } from "./config-error.ts";

type Env = Record<string, string | undefined>;

/** A set value, else the table's default (or `fallback`, for a default the table cannot state as one value). */
function rawVar(env: Env, name: EnvName, fallback?: string): string | undefined {
  const raw = env[name]?.trim();
  return raw ? raw : (envDefault(name) ?? fallback);
}

/** The lane counts there can be: the divisors of the 16 partitions (nats/subjects.ts), so every lane holds as many. */
export const LANE_COUNTS = [1, 2, 4, 8, 16] as const;

function numberVar(env: Env, name: EnvName, check: (n: number) => boolean, need: string, fallback?: number): number {
  const raw = rawVar(env, name, fallback === undefined ? undefined : String(fallback));
  if (raw === undefined) throw new Error(`${name} has no default in shared/env-vars.ts`);
  const value = Number(raw);
  if (!Number.isFinite(value) || !check(value)) throw new ConfigError(`${name}=${raw} is not valid: ${need}`);
  return value;
}

const SIZE_UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** Bytes from `512M`, `10G`, `1048576` (binary units, optional B / iB); -1 for `-1`, `0` or unset. */
function sizeVar(env: Env, name: EnvName): number {
  const raw = rawVar(env, name);
  if (!raw || raw === "-1" || raw === "0") return -1;
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(raw);
  if (!m) throw new ConfigError(`${name}=${raw} is not valid: a size such as 512M or 10G (or -1 for no limit)`);
  return Math.floor(Number(m[1]) * SIZE_UNITS[m[2]!.toUpperCase()]!);
}

const DURATION_UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds from `30d`, `12h`, `90m`, `3600s` (or `3600`: seconds); 0 for `0`. */
function durationVar(env: Env, name: EnvName): number {
  const raw = rawVar(env, name);
  if (!raw) return 0;
  const m = /^(\d+)\s*([smhd]?)$/.exec(raw);
  if (!m) throw new ConfigError(`${name}=${raw} is not valid: a duration such as 30d, 12h or 90m (0: no limit)`);
  return Number(m[1]) * DURATION_UNITS[m[2] || "s"]!;
}

function compressionVar(env: Env): "s2" | "none" | undefined {
  const raw = env.STREAM_COMPRESSION?.trim().toLowerCase();
  if (!raw) return undefined;
  if (raw !== "s2" && raw !== "none") throw new ConfigError(`STREAM_COMPRESSION=${env.STREAM_COMPRESSION} is not valid: s2 or none`);
  return raw;
}

function optional(env: Env, name: EnvName): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/** VictoriaLogs' default address on this machine (its own default port, where `npm start` runs it): the CLI's default. */
export const DEFAULT_VICTORIA_LOGS_URL = "http://127.0.0.1:9428";

function httpUrl(env: Env, name: EnvName): string | undefined {
  const value = optional(env, name);
  if (value === undefined) return undefined;
  let ok = false;
  try {
    ok = ["http:", "https:"].includes(new URL(value).protocol);
  } catch {
    ok = false;
  }
  if (!ok) throw new ConfigError(`${name}=${value} is not valid: an http(s) URL such as ${DEFAULT_VICTORIA_LOGS_URL}`);
  return value.replace(/\/+$/, "");
}

function siteName(variable: EnvName, value: string): string {
  if (!isSiteName(value)) {
    throw new ConfigError(
      `${variable}=${value} is not a site name: lower-case letters, digits and inner dashes, at most 16 (${SITE_NAME_PATTERN.source})`,
    );
  }
  return value;
}

/** The topology from SITE / SITES / HUB_DOMAIN (see Topology). */
export function loadTopology(service: ServiceName, env: Env): Topology {
  const site = optional(env, "SITE");
  const sitesRaw = optional(env, "SITES");
  const hubDomain = siteName("HUB_DOMAIN", optional(env, "HUB_DOMAIN") ?? DEFAULT_HUB_DOMAIN);
  if (site !== undefined && sitesRaw !== undefined) {
    throw new ConfigError(
      "SITE and SITES are both set: SITE names the site a service runs at, SITES the sites a hub's services serve; set one",
    );
  }
  if (site !== undefined) {
    if (service !== "order") {
      // The hub runs the central systems (provider, carrier, customer messaging) for every site.
      throw new ConfigError(
        `SITE=${site} is set for the ${service} service: only the order API runs at a site; run ${service} at the hub with SITES listing the sites`,
      );
    }
    siteName("SITE", site);
    if (site === hubDomain) throw new ConfigError(`SITE=${site} is the hub's domain (HUB_DOMAIN): a site needs a name of its own`);
    return { kind: "site", site, hubDomain };
  }
  if (sitesRaw !== undefined) {
    const sites = [
      ...new Set(
        sitesRaw
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    ].map((s) => siteName("SITES", s));
    if (sites.includes(hubDomain)) throw new ConfigError(`SITES names ${hubDomain}, the hub's own domain (HUB_DOMAIN)`);
    if (sites.length > 0) return { kind: "hub", sites };
  }
  return { kind: "single" };
}

export function loadConfig(service: ServiceName, env: Env): ServiceConfig {
  if (optional(env, "NATS_TLS_CERT") !== undefined && optional(env, "NATS_TLS_KEY") === undefined) {
    throw new ConfigError("NATS_TLS_CERT is set without NATS_TLS_KEY: a client certificate needs its key");
  }
  if (optional(env, "NATS_TLS_KEY") !== undefined && optional(env, "NATS_TLS_CERT") === undefined) {
    throw new ConfigError("NATS_TLS_KEY is set without NATS_TLS_CERT: a client key needs its certificate");
  }
  const natsServers = rawVar(env, "NATS_URL")!
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  natsTransportOf(natsServers, {
    ca: optional(env, "NATS_TLS_CA"),
    cert: optional(env, "NATS_TLS_CERT"),
    key: optional(env, "NATS_TLS_KEY"),
  });
  return {
    service,
    host: optional(env, "HOST") ?? DEFAULT_HOST,
    port: numberVar(env, "PORT", (n) => Number.isInteger(n) && n >= 0 && n < 65536, "a TCP port", DEFAULT_PORTS[service]),
    natsServers,
    natsUser: optional(env, "NATS_USER"),
    natsPassword: optional(env, "NATS_PASSWORD"),
    natsCredsFile: optional(env, "NATS_CREDS"),
    natsTlsCaFile: optional(env, "NATS_TLS_CA"),
    natsTlsCertFile: optional(env, "NATS_TLS_CERT"),
    natsTlsKeyFile: optional(env, "NATS_TLS_KEY"),
    ordersReplicas: numberVar(env, "ORDERS_REPLICAS", (n) => [1, 3, 5].includes(n), "1, 3 or 5"),
    jaegerQueryUrl: rawVar(env, "JAEGER_QUERY_URL")!.replace(/\/+$/, ""),
    victoriaLogsUrl: httpUrl(env, "VICTORIA_LOGS_URL"),
    victoriaLogsQueryUrl: httpUrl(env, "VICTORIA_LOGS_QUERY_URL") ?? httpUrl(env, "VICTORIA_LOGS_URL"),
    logBufferLines: numberVar(env, "VICTORIA_LOGS_BUFFER_LINES", (n) => Number.isInteger(n) && n >= 1, "a whole number of lines ≥ 1"),
    logFlushMs: numberVar(env, "VICTORIA_LOGS_FLUSH_MS", (n) => n >= 10 && n <= 60_000, "milliseconds, 10-60000"),
    paymentLimit: numberVar(env, "PAYMENT_LIMIT", (n) => n >= 0, "a non-negative amount"),
    unavailableSkus: (env.SHIPPING_UNAVAILABLE_SKUS ?? envDefault("SHIPPING_UNAVAILABLE_SKUS")!)
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    notifyWebhookUrl: optional(env, "NOTIFY_WEBHOOK_URL"),
    orderApiToken: optional(env, "ORDER_API_TOKEN"),
    logLevel: rawVar(env, "LOG_LEVEL")!,
    handlerRetryBaseMs: numberVar(env, "HANDLER_RETRY_BASE_MS", (n) => n >= 0 && n <= 60_000, "milliseconds, 0-60000"),
    ordersMaxBytes: sizeVar(env, "ORDERS_MAX_BYTES"),
    notificationsMaxAgeMs: durationVar(env, "NOTIFICATIONS_MAX_AGE"),
    streamCompression: compressionVar(env),
    crashLimit: numberVar(env, "CRASH_LIMIT", (n) => Number.isInteger(n) && n >= 1 && n <= 100, "a whole number of process deaths, 1-100"),
    lanes: numberVar(env, "LANES", (n) => (LANE_COUNTS as readonly number[]).includes(n), `one of ${LANE_COUNTS.join(", ")}`),
    topology: loadTopology(service, env),
  };
}

/**
 * The TLS options for NATS from the configured PEM files, read with `readFile` (the entry's own file
 * access), or undefined when none is set. A file that cannot be read is a ConfigError naming it.
 */
export function natsTlsFrom(config: ServiceConfig, readFile: (path: string) => string): NatsTlsOptions | undefined {
  const files = { ca: config.natsTlsCaFile, cert: config.natsTlsCertFile, key: config.natsTlsKeyFile };
  if (!files.ca && !files.cert && !files.key) return undefined;
  const read = (variable: string, path: string | undefined) => {
    if (path === undefined) return undefined;
    try {
      return readFile(path);
    } catch (err) {
      throw new ConfigError(`${variable}=${path} cannot be read: ${(err as Error).message}`);
    }
  };
  return {
    ca: read("NATS_TLS_CA", files.ca),
    cert: read("NATS_TLS_CERT", files.cert),
    key: read("NATS_TLS_KEY", files.key),
  };
}
