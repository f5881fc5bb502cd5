/**
 * What `npm start` hands each service: pure, so the defaults are tested without starting anything.
 */
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
