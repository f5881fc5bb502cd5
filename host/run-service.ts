/**
 * Runs one service on whatever runtime provides `Platform`: tracing first, then the HTTP port, then
 * NATS; SIGTERM/SIGINT drain (in-flight messages finish and are acked, nothing new is pulled) and
 * exit 0. node.ts and deno.ts only adapt their runtime's process, file and server APIs to it.
 */
import type { ConnectionFacts } from "../otel/http-server-span.ts";
import { startTracing } from "../otel/sdk.ts";
import { reportSdkDiagnostics } from "../otel/diagnostics.ts";
import { ConfigError, loadConfig, localUrlOf, natsTlsFrom, type NatsTlsOptions, type ServiceConfig } from "../shared/config.ts";
import { createLogger } from "../shared/logger.ts";
import { createLogShipper, type HttpPost, type LogShipper } from "../shared/log-shipper.ts";
import { createService } from "./service-host.ts";
import type { ServiceDefinition } from "./service-definition.ts";
import { ServerTooOldError } from "../nats/server-version.ts";

const DRAIN_TIMEOUT_MS = 25_000;
/** At exit, buffered log lines get this long to reach VictoriaLogs (it may be down: never wait longer). */
const LOG_FLUSH_AT_EXIT_MS = 2_000;

/** What a runtime entry hands to `runService`. */
export interface Platform {
  runtime: string;
  env: Record<string, string | undefined>;
  pid: number;
  readTextFile(path: string): string;
  exit(code: number): never;
  onSignal(signal: "SIGTERM" | "SIGINT", handler: () => void): void;
  /** How log batches are POSTed to VictoriaLogs; default: global fetch. */
  httpPost?: HttpPost;
  /** What the runtime's per-request value (Hono's `c.env`, as `serve` passes it) tells of the connection. */
  connection?: (env: unknown) => ConnectionFacts | undefined;
  /** Opens the HTTP port; `onError` when it cannot (e.g. in use). */
  serve(
    fetch: (request: Request) => Response | Promise<Response>,
    options: { port: number; hostname: string; onListening: () => void; onError: (err: unknown) => void },
  ): { close(): Promise<void> };
}

export async function runService(definition: ServiceDefinition<unknown>, platform: Platform): Promise<void> {
  const name = definition.name;
  const { env } = platform;
  const tracing = await startTracing(`${name}-service`, env);
  const fail = (message: string): never => {
    console.error(`${name}: ${message}`);
    return platform.exit(1);
  };
  let config: ServiceConfig;
  try {
    config = loadConfig(name, env);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  // One id for this process: its partition-owner key and, in VictoriaLogs, its `instance` stream field.
  const instanceId = crypto.randomUUID();
  let shipper: LogShipper | undefined;
  if (config.victoriaLogsUrl) {
    shipper = createLogShipper({
      url: config.victoriaLogsUrl,
      extraFields: { instance: instanceId },
      post: platform.httpPost,
      maxBufferedLines: config.logBufferLines,
      flushIntervalMs: config.logFlushMs,
      // stderr, not the logger: a line about shipping failing would only join the queue that fails.
      onStateChange: (change) =>
        console.error(
          change.state === "failing"
            ? `${name}: ${change.reason}`
            : `${name}: log shipping to ${config.victoriaLogsUrl} works again (${change.dropped} lines dropped meanwhile)`,
        ),
    });
  }
  const log = createLogger(`${name}-service`, config.logLevel, undefined, shipper?.write);
  const sdkDiagnostics = reportSdkDiagnostics(log, env);
  const closeLogs = () => shipper?.close(LOG_FLUSH_AT_EXIT_MS) ?? Promise.resolve();
  let creds: string | undefined;
  let tls: NatsTlsOptions | undefined;
  try {
    creds = config.natsCredsFile ? platform.readTextFile(config.natsCredsFile) : undefined;
    tls = natsTlsFrom(config, platform.readTextFile);
  } catch (err) {
    fail((err as Error).message);
  }
  const service = createService({
    definition,
    config,
    log,
    nats: { creds, tls },
    describeInstance: { pid: platform.pid, runtime: platform.runtime },
    instanceId,
    logShipping: shipper ? () => shipper.stats() : undefined,
    droppedSpans: sdkDiagnostics.droppedSpans,
    connection: platform.connection,
    // A test hook (docs/operations.md): the process dies on this user's events.
    crashOn: env.ORDERSTREAM_TEST_CRASH_ON ? { userId: env.ORDERSTREAM_TEST_CRASH_ON, exit: platform.exit } : undefined,
  });
  const port = config.port;
  const server = platform.serve(service.app.fetch, {
    port,
    hostname: config.host,
    onListening: () =>
      log.info(
        { host: config.host, port, pid: platform.pid, runtime: platform.runtime },
        `${name} service listening on ${localUrlOf(config.host, port)}${config.host === "0.0.0.0" || config.host === "::" ? " (every interface)" : ""}`,
      ),
    onError: (err) => {
      log.fatal({ err, port }, `cannot listen on port ${port}`);
      platform.exit(1);
    },
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "draining");
    const timer = setTimeout(() => {
      log.error("drain took too long; exiting");
      platform.exit(1);
    }, DRAIN_TIMEOUT_MS);
    try {
      await service.stop();
      await server.close();
      await tracing.shutdown();
      clearTimeout(timer);
      log.info("drained; bye");
      await closeLogs();
      platform.exit(0);
    } catch (err) {
      log.error({ err }, "drain failed");
      await closeLogs();
      platform.exit(1);
    }
  };
  platform.onSignal("SIGTERM", () => void shutdown("SIGTERM"));
  platform.onSignal("SIGINT", () => void shutdown("SIGINT"));

  try {
    await service.start();
  } catch (err) {
    if (err instanceof ServerTooOldError) {
      // One line a user can act on, on stderr as well as in the log.
      console.error(`${name}: ${err.message}`);
      log.fatal({ err, found: err.found }, "the NATS server is too old");
    } else {
      log.fatal({ err }, "could not start: NATS setup failed");
    }
    await tracing.shutdown().catch(() => {});
    await closeLogs();
    platform.exit(1);
  }
}
