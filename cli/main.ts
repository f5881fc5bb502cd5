/**
 * `npm run cli -- <command>` (also `npx orderstream <command>`): operators' commands.
 * Exit code 0 on success, 1 with a one-line reason on failure.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { loadConfig, natsTlsFrom } from "../shared/config.ts";
import { isOrderId } from "../shared/ids.ts";
import { connectNats } from "../nats/connect.ts";
import { assertServerVersion } from "../nats/server-version.ts";
import { readOrderEvents, traceIdOf } from "../nats/order-history.ts";
import { consumersFor, replayConsumer, type ReplayStart } from "../nats/replay.ts";
import { ORDERS_STREAM } from "../nats/subjects.ts";
import { fetchTrace } from "../otel/jaeger-query.ts";
import { rebuildOrderViews } from "../services/order/rebuild-view.ts";
import { renderTraceReport } from "./waterfall.ts";
import { renderEventTable } from "./event-table.ts";
import { readLocalNats } from "../scripts/local-nats.ts";
import { readLocalObservability } from "../scripts/local-observability.ts";
import { DEFAULT_VICTORIA_LOGS_URL } from "../shared/config.ts";
import { fetchOrderLogs } from "../shared/log-query.ts";
import { renderLogLines } from "./log-table.ts";
import { listDeadLetters, requestRetry } from "../nats/dead-letters.ts";

const USAGE = `usage: orderstream <command>
  events <orderId>                                   the order's timeline
  trace <orderId>                                    the order's trace (from Jaeger) as a waterfall, and its Jaeger link
  logs <orderId> [--json]                            the order's log lines from every service, in time order (from VictoriaLogs)
  replay --consumer <name|service> --from-seq <N>    re-deliver from stream sequence N (or --from-time <ISO>)
  dlq list                                           dead-lettered messages: ORDERS sequence, consumer, reason
  dlq retry <seq>                                    hand the dead-lettered message at that ORDERS sequence back to its service
  rebuild-view                                       fold every order's view again from sequence 1 and check the stream
env: NATS_URL (default nats://127.0.0.1:4222; tls://… for TLS), NATS_USER/NATS_PASSWORD or NATS_CREDS,
     NATS_TLS_CA/NATS_TLS_CERT/NATS_TLS_KEY (PEM files), JAEGER_QUERY_URL,
     VICTORIA_LOGS_QUERY_URL (or VICTORIA_LOGS_URL; default http://127.0.0.1:9428)`;

/** A failure the user can act on: printed as one line, exit code 1. */
class CliError extends Error {}

/**
 * The CLI's environment: as given, or — when NATS_URL is unset and `npm start` runs a local
 * server — that server's URL and admin user (from .data/nats/local.json).
 */
function cliEnv(): Record<string, string | undefined> {
  const local = process.env.NATS_URL ? null : readLocalNats();
  if (!local) return process.env;
  return { ...process.env, NATS_URL: local.url, NATS_USER: process.env.NATS_USER ?? "admin", NATS_PASSWORD: process.env.NATS_PASSWORD ?? local.passwords.admin };
}

async function withNats<T>(fn: (nc: NatsConnection, jsm: JetStreamManager) => Promise<T>): Promise<T> {
  const config = loadConfig("order", cliEnv());
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
    throw new CliError(`cannot connect to NATS at ${config.natsServers.join(",")}: ${(err as Error).message} (set NATS_URL)`);
  }
  try {
    assertServerVersion(nc);
    return await fn(nc, await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

function requireOrderId(id: string | undefined): string {
  if (!id) throw new CliError("give an order id");
  if (!isOrderId(id)) throw new CliError(`"${id}" is not an order id (the API issues UUIDs)`);
  return id;
}

async function events(orderId: string): Promise<void> {
  await withNats(async (_nc, jsm) => {
    const history = await readOrderEvents(jsm, orderId);
    if (history.length === 0) throw new CliError(`no order ${orderId} in the ${ORDERS_STREAM} stream`);
    console.log(renderEventTable(history));
  });
}

async function traceCommand(orderId: string): Promise<void> {
  const history = await withNats((_nc, jsm) => readOrderEvents(jsm, orderId));
  if (history.length === 0) throw new CliError(`no order ${orderId} in the ${ORDERS_STREAM} stream`);
  const traceId = traceIdOf(history[0]!.traceparent);
  if (!traceId) throw new CliError(`order ${orderId}'s first event carries no traceparent`);
  const baseUrl = jaegerQueryUrl();
  const lookup = await fetchTrace({ baseUrl, traceId });
  console.log(renderTraceReport(lookup, { color: process.stdout.isTTY }));
  // The id and link above still help, but without spans there is no waterfall: that is a failure.
  if (!lookup.spans) throw new CliError(`no spans for trace ${traceId} from Jaeger at ${baseUrl} (see above; set JAEGER_QUERY_URL)`);
}

/** JAEGER_QUERY_URL, else the Jaeger a running `npm start` started, else Jaeger's default address. */
function jaegerQueryUrl(): string {
  return (process.env.JAEGER_QUERY_URL || readLocalObservability()?.jaegerQueryUrl || "http://127.0.0.1:16686").replace(/\/+$/, "");
}

/** VICTORIA_LOGS_QUERY_URL or VICTORIA_LOGS_URL, else the VictoriaLogs a running `npm start` started, else its default address. */
function victoriaLogsUrl(): string {
  const url = process.env.VICTORIA_LOGS_QUERY_URL || process.env.VICTORIA_LOGS_URL || readLocalObservability()?.victoriaLogsUrl || DEFAULT_VICTORIA_LOGS_URL;
  return url.replace(/\/+$/, "");
}

/** `logs <orderId> [--json]`: needs only VictoriaLogs, not NATS. */
async function logsCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { json: { type: "boolean" } }, allowPositionals: true });
  const orderId = requireOrderId(positionals[0]);
  const baseUrl = victoriaLogsUrl();
  const lookup = await fetchOrderLogs({ baseUrl, orderId, timeoutMs: 5_000 });
  if (!lookup.lines) throw new CliError(`no log lines: ${lookup.warning ?? "VictoriaLogs gave no answer"}`);
  if (values.json) {
    console.log(JSON.stringify(lookup.lines, null, 2));
  } else if (lookup.lines.length > 0) {
    console.log(renderLogLines(lookup.lines, { color: process.stdout.isTTY }));
    console.log(`\n${lookup.lines.length} lines from ${new Set(lookup.lines.map((l) => l.service)).size} service(s); VictoriaLogs: ${lookup.uiUrl} (query: ${lookup.query})`);
  }
  if (lookup.lines.length === 0) {
    throw new CliError(`VictoriaLogs at ${baseUrl} has no log lines for order ${orderId} yet (lines are shipped about once a second; is VICTORIA_LOGS_URL set for the services?)`);
  }
}

async function replay(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { consumer: { type: "string" }, "from-seq": { type: "string" }, "from-time": { type: "string" }, "no-wait": { type: "boolean" } },
  });
  if (!values.consumer) throw new CliError("replay needs --consumer <durable name or service name>");
  let start: ReplayStart;
  if (values["from-seq"] !== undefined) {
    const seq = Number(values["from-seq"]);
    if (!Number.isSafeInteger(seq) || seq < 1) throw new CliError("--from-seq must be a stream sequence ≥ 1");
    start = { fromSeq: seq };
  } else if (values["from-time"] !== undefined) {
    const time = new Date(values["from-time"]);
    if (Number.isNaN(time.getTime())) throw new CliError("--from-time must be an ISO date, e.g. 2026-11-26T10:00:00Z");
    start = { fromTime: time };
  } else {
    throw new CliError("replay needs --from-seq <N> or --from-time <ISO>");
  }
  const names = consumersFor(values.consumer);
  await withNats(async (_nc, jsm) => {
    for (const name of names) {
      await replayConsumer(jsm, name, start).catch((err) => {
        throw new CliError(`cannot replay consumer ${name}: ${(err as Error).message}`);
      });
    }
    console.log(`replaying ${names.length} consumer(s) from ${"fromSeq" in start ? `sequence ${start.fromSeq}` : start.fromTime.toISOString()}`);
    if (values["no-wait"]) return;
    // Progress until the running service instances have worked through the backlog.
    const deadline = Date.now() + 30 * 60_000;
    let last = "";
    while (Date.now() < deadline) {
      const infos = await Promise.all(names.map((n) => jsm.consumers.info(ORDERS_STREAM, n)));
      const pending = infos.reduce((s, i) => s + i.num_pending + i.num_ack_pending, 0);
      const delivered = infos.reduce((s, i) => s + i.delivered.consumer_seq, 0);
      const line = `delivered ${delivered}, remaining ${pending}`;
      if (line !== last) console.log(line);
      last = line;
      if (pending === 0) {
        console.log("replay done");
        return;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new CliError("replay still running after 30 minutes; are the service instances up?");
  });
}

async function dlq(args: string[]): Promise<void> {
  const [sub, seqArg] = args;
  if (sub === "list") {
    await withNats(async (_nc, jsm) => {
      const letters = await listDeadLetters(jsm);
      if (letters.length === 0) {
        console.log("the dead-letter queue is empty");
        return;
      }
      console.log(["SEQ", "CONSUMER", "SUBJECT", "DELIVERIES", "TIME", "REASON"].join("\t"));
      for (const d of letters) console.log([d.streamSeq, d.consumer, d.subject, d.deliveries, d.time, d.reason].join("\t"));
    });
    return;
  }
  if (sub === "retry") {
    const seq = Number(seqArg);
    if (!Number.isSafeInteger(seq) || seq < 1) throw new CliError("dlq retry needs the ORDERS stream sequence, e.g. dlq retry 42");
    await withNats(async (nc, jsm) => {
      const letters = await requestRetry(jetstream(nc), jsm, seq);
      if (letters.length === 0) throw new CliError(`no dead letter for ORDERS sequence ${seq} (see dlq list)`);
      // Wait for the services to take it back: the dead letter disappears on success.
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const left = (await listDeadLetters(jsm)).filter((d) => d.streamSeq === seq);
        if (left.length === 0) {
          console.log(`sequence ${seq} re-delivered to ${letters.map((l) => l.consumer).join(", ")} and handled`);
          return;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new CliError(`sequence ${seq} was handed back but is still failing (see the service logs and dlq list)`);
    });
    return;
  }
  throw new CliError("usage: dlq list | dlq retry <seq>");
}

async function rebuildView(): Promise<void> {
  await withNats(async (nc, jsm) => {
    const started = performance.now();
    const result = await rebuildOrderViews(jetstream(nc), jsm, (p) => {
      if (p.phase === "reading") console.log(`reading: ${p.events} events (seq ${p.lastSeq}), ${p.orders} orders`);
    });
    const seconds = (performance.now() - started) / 1000;
    const statuses = Object.entries(result.byStatus).map(([status, n]) => `${n} ${status}`).join(", ");
    console.log(`rebuilt ${result.orders} order views from ${result.events} events in ${seconds.toFixed(2)} s: ${statuses}`);
    if (result.invalid > 0) console.log(`${result.invalid} messages are not valid order events (skipped, as the API skips them)`);
    if (result.orphans > 0) console.log(`${result.orphans} orders have events but no ORDER_CREATED before them`);
  });
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "events":
      return events(requireOrderId(rest[0]));
    case "trace":
      return traceCommand(requireOrderId(rest[0]));
    case "logs":
      return logsCommand(rest);
    case "replay":
      return replay(rest);
    case "rebuild-view":
      return rebuildView();
    case "dlq":
      return dlq(rest);
    case undefined:
    case "help":
    case "--help":
      console.log(USAGE);
      return;
    default:
      throw new CliError(`unknown command "${command}"; run with --help`);
  }
}

try {
  await main(process.argv.slice(2));
  process.exit(0);
} catch (err) {
  console.error(`orderstream: ${err instanceof CliError ? err.message : (err as Error).message ?? String(err)}`);
  process.exit(1);
}
