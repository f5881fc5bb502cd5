/**
 * What `npm start` hands each service: pure, so the defaults are tested without starting anything.
 */
import { DEFAULT_PORTS } from "../shared/config.ts";
import { DEFAULT_SERVICES, isServiceName, SERVICES, type ServiceName } from "../shared/services.ts";

/** The listen address npm start gives the services: HOST when set, else 127.0.0.1 (this machine only). */
export function startHost(env: Record<string, string | undefined>): string {
  return env.HOST?.trim() || "127.0.0.1";
}

/** Options of {@link serviceEnv}. */
export interface ServiceStart {
  natsUrl: string;
  host: string;
  port: number;
  /** The service's own NATS user, when npm start runs the server with nats/auth. */
  credentials?: { user: string; password: string };
}

/** One service's environment: npm start's own, then the service's NATS server, user, HOST and PORT. */
export function serviceEnv(base: Record<string, string | undefined>, start: ServiceStart): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...base, NATS_URL: start.natsUrl, HOST: start.host, PORT: String(start.port) };
  if (start.credentials) {
    env.NATS_USER = start.credentials.user;
    env.NATS_PASSWORD = start.credentials.password;
  }
  // Without a collector to send to, exporting would only log connection errors.
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) env.OTEL_TRACES_EXPORTER ??= "none";
  return env;
}

/** The ports npm start uses: NATS_PORT (else 4222, or a free one when taken) and each service's <NAME>_PORT. */
export interface StartPorts {
  /** Null: 4222 when free, else a free one. */
  nats: number | null;
  services: Record<ServiceName, number>;
}

/** Thrown for a port variable that is not a TCP port number. */
export class PortVariableError extends Error {
  constructor(name: string, value: string) {
    super(`${name}=${value} is not a TCP port (1-65535); unset it or give a number.`);
    this.name = "PortVariableError";
  }
}

function portVariable(env: Record<string, string | undefined>, name: string): number | null {
  const raw = env[name]?.trim();
  if (!raw) return null;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535) throw new PortVariableError(name, raw);
  return port;
}

/**
 * npm start's ports: the defaults (order 3000 … notification 3003), each movable with ORDER_PORT,
 * PAYMENT_PORT, SHIPPING_PORT, NOTIFICATION_PORT (a second checkout beside the first, a test), and
 * NATS_PORT for its nats-server.
 * @example startPorts({ ORDER_PORT: "3100" }).services.order // 3100
 */
export function startPorts(env: Record<string, string | undefined>): StartPorts {
  const services = Object.fromEntries(
    Object.entries(DEFAULT_PORTS).map(([name, port]) => [name, portVariable(env, `${name.toUpperCase()}_PORT`) ?? port]),
  ) as Record<ServiceName, number>;
  return { nats: portVariable(env, "NATS_PORT"), services };
}

/** Thrown for `npm start` arguments it does not take; the message says what it does take. */
export class StartUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartUsageError";
  }
}

/**
 * The services npm start runs, in registration order: the default ones, plus each opt-in service
 * named with `--with <name>` (repeated, or a comma list: `--with loyalty,other`).
 * @example servicesToStart(["--with", "loyalty"]) // ["order", "payment", "shipping", "notification", "loyalty"]
 */
export function servicesToStart(argv: readonly string[]): ServiceName[] {
  const asked = new Set<string>();
  const optional = SERVICES.filter((s) => !DEFAULT_SERVICES.includes(s));
  const usage = `usage: npm start [-- --with <${optional.join("|")}>[,…]]`;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = arg === "--with" ? argv[++i] : arg.startsWith("--with=") ? arg.slice("--with=".length) : null;
    if (value === null) throw new StartUsageError(`unknown argument ${JSON.stringify(arg)}; ${usage}`);
    if (value === undefined || value.trim() === "") throw new StartUsageError(`--with needs a service name; ${usage}`);
    for (const name of value.split(",").map((s) => s.trim())) {
      if (!isServiceName(name)) {
        throw new StartUsageError(`--with ${name}: no such service (services started only when asked: ${optional.join(", ") || "none"})`);
      }
      asked.add(name);
    }
  }
  return SERVICES.filter((s) => DEFAULT_SERVICES.includes(s) || asked.has(s));
}
