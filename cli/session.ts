/**
 * The CLI's connection: the environment's NATS settings, or — when NATS_URL is unset and
 * `npm start` runs a local server — that server's URL and admin user (.data/nats/local.json).
 */
import { readFileSync } from "node:fs";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { loadConfig, natsTlsFrom, type ServiceConfig } from "../shared/config.ts";
import { connectNats } from "../nats/connect.ts";
import { assertServerVersion } from "../nats/server-version.ts";
import { readLocalNats } from "../scripts/local-nats.ts";
import { readLocalObservability } from "../scripts/local-observability.ts";
import { DEFAULT_VICTORIA_LOGS_URL } from "../shared/config.ts";
import { CliError } from "./command.ts";

/** What `orderstream --help` says about settings. */
export const ENV_HELP = `environment: NATS_URL (default: npm start's server and its admin user, else nats://127.0.0.1:4222; tls://… for TLS),
  NATS_USER/NATS_PASSWORD or NATS_CREDS, NATS_TLS_CA/NATS_TLS_CERT/NATS_TLS_KEY (PEM files),
  JAEGER_QUERY_URL and VICTORIA_LOGS_QUERY_URL (or VICTORIA_LOGS_URL) (default: npm start's Jaeger and VictoriaLogs, else
  http://127.0.0.1:16686 and ${DEFAULT_VICTORIA_LOGS_URL})`;

/** The environment with npm start's server filled in when NATS_URL is unset and it has run here. */
export function cliEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const local = env.NATS_URL ? null : readLocalNats();
  if (!local) return env;
  return { ...env, NATS_URL: local.url, NATS_USER: env.NATS_USER ?? "admin", NATS_PASSWORD: env.NATS_PASSWORD ?? local.passwords.admin };
}

/** The CLI's settings (the order service's names and defaults; only NATS and Jaeger matter). */
export function cliConfig(env: Record<string, string | undefined>): ServiceConfig {
  return loadConfig("order", cliEnv(env));
}

/** JAEGER_QUERY_URL, else the Jaeger a running `npm start` started, else Jaeger's default address. */
export function jaegerQueryUrl(env: Record<string, string | undefined>): string {
  return env.JAEGER_QUERY_URL ? cliConfig(env).jaegerQueryUrl : (readLocalObservability()?.jaegerQueryUrl ?? cliConfig(env).jaegerQueryUrl);
}

/** VICTORIA_LOGS_QUERY_URL or VICTORIA_LOGS_URL, else the VictoriaLogs a running `npm start` started, else its default address. */
export function victoriaLogsUrl(env: Record<string, string | undefined>): string {
  const url =
    env.VICTORIA_LOGS_QUERY_URL || env.VICTORIA_LOGS_URL || readLocalObservability()?.victoriaLogsUrl || DEFAULT_VICTORIA_LOGS_URL;
  return url.replace(/\/+$/, "");
}

/** Connects (failing fast, with a one-line reason), checks the server's version, runs `fn`, closes. */
export async function withNats<T>(
  env: Record<string, string | undefined>,
  fn: (nc: NatsConnection, jsm: JetStreamManager) => Promise<T>,
): Promise<T> {
  const config = cliConfig(env);
  let nc: NatsConnection;
  try {
    nc = await connectNats({
      servers: config.natsServers,
      name: "orderstream-cli",
      user: config.natsUser,
      password: config.natsPassword,
      creds: config.natsCredsFile ? readFileSync(config.natsCredsFile, "utf8") : undefined,
      tls: natsTlsFrom(config, (path) => readFileSync(path, "utf8")),
      failFast: true,
    });
  } catch (err) {
    const where = config.natsServers.join(",");
    const reason = (err as Error).message;
    // Without NATS_URL the address is the last `npm start`'s, which may have stopped since.
    if (!env.NATS_URL && readLocalNats())
      throw new CliError(`cannot connect to npm start's nats-server at ${where}: ${reason} (is npm start running? or set NATS_URL)`);
    throw new CliError(`cannot connect to NATS at ${where}: ${reason} (set NATS_URL)`);
  }
  try {
    assertServerVersion(nc);
    return await fn(nc, await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}
