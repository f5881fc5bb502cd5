/**
 * The operator's commands, one entry each: name, help, options, `json` for read commands, and
 * what it does. A new command is one more entry in COMMANDS (cli/command.ts does the rest: parsing,
 * `--help`, `--json`, exit codes).
 */
import { jetstream } from "@nats-io/jetstream";
import { isOrderId } from "../shared/ids.ts";
import { eventRecord, readOrderEvents, traceIdOf, type StoredEvent } from "../nats/order-history.ts";
import { consumersFor, replayConsumer, type ReplayStart } from "../nats/replay.ts";
import { DLQ_STREAM, ORDERS_STREAM } from "../nats/subjects.ts";
import { listDeadLetters, requestRetry } from "../nats/dead-letter-queue.ts";
import { fetchTrace } from "../inspection/jaeger-client.ts";
import { fetchOrderLogs } from "../inspection/log-query.ts";
import { rebuildOrderViews } from "../services/order/rebuild-view.ts";
import { CliError, CliUsageError, type CliCommand, type CliIo } from "./command.ts";
import { renderEventTable } from "./event-table.ts";
import { renderTraceReport } from "./waterfall.ts";
import { renderLogLines } from "./log-table.ts";
import { createProgress, trackRemaining } from "./progress.ts";
import { jaegerQueryUrl, victoriaLogsUrl, withNats } from "./session.ts";

const print = (io: CliIo, text: string) => io.stdout.write(`${text}\n`);
const printJson = (io: CliIo, value: unknown) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function orderIdOf(id: string): string {
  if (!isOrderId(id)) throw new CliUsageError(`"${id}" is not an order id (the API issues UUIDs, at a site <site>-<uuid>)`);
  return id;
}

async function historyOf(io: CliIo, orderId: string): Promise<StoredEvent[]> {
  const history = await withNats(io.env, (_nc, jsm) => readOrderEvents(jsm, orderId));
  if (history.length === 0) throw new CliError(`no order ${orderId} in the ${ORDERS_STREAM} stream`);
  return history;
}

const events: CliCommand = {
  name: "events",
  positionals: ["orderId"],
  summary: "the order's timeline",
  description: "Reads the order's events from the ORDERS stream, in stream order: sequence, time, type and what it says.",
  json: true,
  jsonHelp: "print the events as a JSON array, as GET /orders/{id}/events answers: [{ seq, subject, time, eventType, data, traceparent }]",
  async run({ positionals, json }, io) {
    const history = await historyOf(io, orderIdOf(positionals[0]!));
    if (json) printJson(io, history.map(eventRecord));
    else print(io, renderEventTable(history));
  },
};

const trace: CliCommand = {
  name: "trace",
  positionals: ["orderId"],
  summary: "the order's trace from Jaeger as a waterfall, and its link",
  description:
    "Finds the trace id in the order's first event and asks Jaeger's query API (JAEGER_QUERY_URL) for the spans.\n" +
    "Fails (exit 1) when Jaeger has no spans for it, after printing the trace id and link.",
  json: true,
  jsonHelp: "print { orderId, traceId, jaegerUrl, spans, warning? } as GET /orders/{id}/trace answers (still exit 1 without spans)",
  async run({ positionals, json }, io) {
    const orderId = orderIdOf(positionals[0]!);
    const history = await historyOf(io, orderId);
    const traceId = traceIdOf(history[0]!.traceparent);
    if (!traceId) throw new CliError(`order ${orderId}'s first event carries no traceparent`);
    const baseUrl = jaegerQueryUrl(io.env);
    const lookup = await fetchTrace({ baseUrl, traceId });
    if (json) printJson(io, { orderId, ...lookup, spans: lookup.spans });
    else print(io, renderTraceReport(lookup, { color: io.stdout.isTTY === true }));
    // The id and link still help, but without spans there is no waterfall: that is a failure.
    if (!lookup.spans) throw new CliError(`no spans for trace ${traceId} from Jaeger at ${baseUrl} (see above; set JAEGER_QUERY_URL)`);
  },
};

const logs: CliCommand = {
  name: "logs",
  positionals: ["orderId"],
  summary: "the order's log lines from every service, in time order (from VictoriaLogs)",
  description:
    "Asks VictoriaLogs (VICTORIA_LOGS_QUERY_URL or VICTORIA_LOGS_URL) for the lines whose orderId is this order, with a\n" +
    "LogsQL query; needs no NATS. Fails (exit 1) when the store does not answer or has no line for the order yet\n" +
    "(services ship their lines about once a second).",
  json: true,
  jsonHelp: "print the lines as a JSON array, oldest first: [{ time, service, level, msg, orderId, trace_id, span_id, … }]",
  async run({ positionals, json }, io) {
    const orderId = orderIdOf(positionals[0]!);
    const baseUrl = victoriaLogsUrl(io.env);
    const lookup = await fetchOrderLogs({ baseUrl, orderId, timeoutMs: 5_000 });
    if (!lookup.lines) throw new CliError(`no log lines: ${lookup.warning ?? "VictoriaLogs gave no answer"}`);
    if (json) printJson(io, lookup.lines);
    else if (lookup.lines.length > 0) {
      print(io, renderLogLines(lookup.lines, { color: io.stdout.isTTY === true }));
      print(
        io,
        `\n${lookup.lines.length} lines from ${new Set(lookup.lines.map((l) => l.service)).size} service(s); VictoriaLogs: ${lookup.uiUrl} (query: ${lookup.query})`,
      );
    }
    if (lookup.lines.length === 0) {
      throw new CliError(
        `VictoriaLogs at ${baseUrl} has no log lines for order ${orderId} yet (lines are shipped about once a second; is VICTORIA_LOGS_URL set for the services?)`,
      );
    }
  },
};

function replayStart(values: Record<string, string | boolean | undefined>): ReplayStart {
  const fromSeq = values["from-seq"];
  const fromTime = values["from-time"];
  if (typeof fromSeq === "string" && typeof fromTime === "string")
    throw new CliUsageError("replay takes --from-seq or --from-time, not both");
  if (typeof fromSeq === "string") {
    const seq = Number(fromSeq);
    if (!Number.isSafeInteger(seq) || seq < 1) throw new CliUsageError("--from-seq must be a stream sequence ≥ 1");
    return { fromSeq: seq };
  }
  if (typeof fromTime === "string") {
    const time = new Date(fromTime);
    if (Number.isNaN(time.getTime())) throw new CliUsageError("--from-time must be an ISO date, e.g. 2026-11-26T10:00:00Z");
    return { fromTime: time };
  }
  throw new CliUsageError("replay needs --from-seq <N> or --from-time <ISO>");
}

/** How long replay waits for the services to work through the backlog. */
const REPLAY_WAIT_MS = 30 * 60_000;

const replay: CliCommand = {
  name: "replay",
  synopsis: "--consumer <name|service> (--from-seq <N> | --from-time <ISO>) [--no-wait]",
  options: {
    consumer: {
      type: "string",
      value: "<name|service>",
      help: "a durable consumer (payment-p03), or a service name for all 16 of its consumers",
    },
    "from-seq": { type: "string", value: "<N>", help: "re-deliver from this ORDERS stream sequence" },
    "from-time": { type: "string", value: "<ISO>", help: "re-deliver from this time, e.g. 2026-11-26T10:00:00Z" },
    "no-wait": { type: "boolean", help: "move the consumers and exit, without waiting for the services to work through them" },
  },
  summary: "re-deliver from a stream sequence or time",
  description:
    "Recreates the consumer(s) at that start point; the running service instances take them and work through\n" +
    "the backlog while progress is shown (events done / total, events/s, ETA: one line redrawn on a terminal,\n" +
    "a line every 5 s otherwise) until nothing is pending. Handlers are idempotent: a replay changes no outcome\n" +
    "already reached. Fails (exit 1) if the backlog is not worked through within 30 minutes.",
  async run({ values }, io) {
    if (typeof values.consumer !== "string") throw new CliUsageError("replay needs --consumer <durable name or service name>");
    const start = replayStart(values);
    const consumer = values.consumer;
    await withNats(io.env, async (_nc, jsm) => {
      const names = await consumersFor(jsm, consumer);
      for (const name of names) {
        await replayConsumer(jsm, name, start).catch((err) => {
          throw new CliError(`cannot replay consumer ${name}: ${(err as Error).message}`);
        });
      }
      print(
        io,
        `replaying ${names.length} consumer(s) from ${"fromSeq" in start ? `sequence ${start.fromSeq}` : start.fromTime.toISOString()}`,
      );
      if (values["no-wait"]) return;
      const remaining = async () => {
        const infos = await Promise.all(names.map((n) => jsm.consumers.info(ORDERS_STREAM, n)));
        return infos.reduce((sum, i) => sum + i.num_pending + i.num_ack_pending, 0);
      };
      const progress = createProgress({ out: io.stdout, label: "replay" });
      const first = await remaining();
      let counts = { done: 0, total: first };
      const deadline = Date.now() + REPLAY_WAIT_MS;
      for (let left = first; ; left = await remaining()) {
        counts = trackRemaining(counts, left);
        if (left === 0) {
          progress.finish(counts.done, counts.total);
          print(io, "replay done");
          return;
        }
        progress.update(counts.done, counts.total);
        if (Date.now() > deadline) break;
        await sleep(500);
      }
      progress.finish(counts.done, counts.total);
      throw new CliError("replay still running after 30 minutes; are the service instances up?");
    });
  },
};

const dlqList: CliCommand = {
  name: "dlq list",
  summary: "dead-lettered messages: ORDERS sequence, consumer, reason",
  description: `Lists the dead letters in ${DLQ_STREAM}, oldest first: the ORDERS sequence, consumer, subject, attempts, time and reason.`,
  json: true,
  jsonHelp:
    "print the dead letters as a JSON array ([] when there are none): [{ streamSeq, consumer, subject, deliveries, time, reason, source, dlqSeq, body }]",
  async run({ json }, io) {
    const letters = await withNats(io.env, (_nc, jsm) => listDeadLetters(jsm));
    if (json) {
      printJson(
        io,
        letters.map(({ streamSeq, consumer, subject, deliveries, time, reason, source, dlqSeq, body }) => ({
          streamSeq,
          consumer,
          subject,
          deliveries,
          time,
          reason,
          source,
          dlqSeq,
          body,
        })),
      );
      return;
    }
    if (letters.length === 0) {
      print(io, "the dead-letter queue is empty");
      return;
    }
    print(io, ["SEQ", "CONSUMER", "SUBJECT", "DELIVERIES", "TIME", "REASON"].join("\t"));
    for (const d of letters) print(io, [d.streamSeq, d.consumer, d.subject, d.deliveries, d.time, d.reason].join("\t"));
  },
};

const dlqRetry: CliCommand = {
  name: "dlq retry",
  positionals: ["seq"],
  summary: "hand the dead letter of that ORDERS sequence back to its service",
  description:
    "A fresh handler of the owning service takes it (folding the order from the stream); waits up to 60 s until the dead letter is gone.",
  async run({ positionals }, io) {
    const seq = Number(positionals[0]);
    if (!Number.isSafeInteger(seq) || seq < 1) throw new CliUsageError("dlq retry needs the ORDERS stream sequence, e.g. dlq retry 42");
    await withNats(io.env, async (nc, jsm) => {
      const letters = await requestRetry(jetstream(nc), jsm, seq);
      if (letters.length === 0) throw new CliError(`no dead letter for ORDERS sequence ${seq} (see dlq list)`);
      // Wait for the services to take it back: the dead letter disappears on success.
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        const left = (await listDeadLetters(jsm)).filter((d) => d.streamSeq === seq);
        if (left.length === 0) {
          print(io, `sequence ${seq} re-delivered to ${letters.map((l) => l.consumer).join(", ")} and handled`);
          return;
        }
        await sleep(250);
      }
      throw new CliError(`sequence ${seq} was handed back but is still failing (see the service logs and dlq list)`);
    });
  },
};

const rebuildView: CliCommand = {
  name: "rebuild-view",
  summary: "fold every order's view again from sequence 1 and check the stream",
  description:
    "Reads ORDERS from sequence 1 with the API's own validation and fold, with progress (events done / total,\n" +
    "events/s, ETA: one line redrawn on a terminal, a line every 5 s otherwise), then prints the orders by status\n" +
    "and any message that is not a valid event. Nothing is stored: the API folds an order on every read.",
  json: true,
  jsonHelp: "no progress; print { events, total, orders, byStatus, invalid, orphans, lastSeq, seconds }",
  async run({ json }, io) {
    await withNats(io.env, async (nc, jsm) => {
      const started = performance.now();
      const progress = json ? null : createProgress({ out: io.stdout, label: "rebuild-view" });
      const result = await rebuildOrderViews(jetstream(nc), jsm, (p) => {
        if (p.phase === "reading") progress?.update(p.events, p.total);
        else progress?.finish(p.events, p.total);
      });
      const seconds = (performance.now() - started) / 1000;
      if (json) {
        const { events, total, orders, byStatus, invalid, orphans, lastSeq } = result;
        printJson(io, { events, total, orders, byStatus, invalid, orphans, lastSeq, seconds: Number(seconds.toFixed(3)) });
        return;
      }
      const statuses = Object.entries(result.byStatus)
        .map(([status, n]) => `${n} ${status}`)
        .join(", ");
      print(io, `rebuilt ${result.orders} order views from ${result.events} events in ${seconds.toFixed(2)} s: ${statuses}`);
      if (result.invalid > 0) print(io, `${result.invalid} messages are not valid order events (skipped, as the API skips them)`);
      if (result.orphans > 0) print(io, `${result.orphans} orders have events but no ORDER_CREATED before them`);
    });
  },
};

/** Every command, in the order `orderstream --help` lists them. */
export const COMMANDS: readonly CliCommand[] = [events, trace, logs, replay, dlqList, dlqRetry, rebuildView];
