/**
 * The CLI as a child process (as `npm run cli` runs it) against a real nats-server with an order's
 * events and a dead letter in it: `--help` at each level, `--json` on the read commands (one JSON
 * document on stdout, the API's shapes), plain progress lines when stdout is not a terminal, and
 * exit code 0 on success (and for --help, --version), 1 with a one-line reason on stderr when a
 * command fails, 2 with the usage on stderr when the command line is wrong.
 */
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { headers, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import { startNatsServer, type NatsServerHandle } from "./support/nats-server.ts";
import { runCli } from "./support/cli.ts";
import { connectNats } from "../nats/connect.ts";
import { ensureDeadLetterStreams, ensureOrderStreams } from "../nats/setup.ts";
import { writeDeadLetter } from "../nats/dead-letter-write.ts";
import { eventSubject } from "../nats/subjects.ts";
import { completeEvent } from "../nats/publish-event.ts";
import type { EventDraft } from "../shared/events.ts";
import { freePort } from "../scripts/nats-binary.ts";
import { REPO_ROOT } from "./support/processes.ts";

let nats: NatsServerHandle;
let nc: NatsConnection;
let js: JetStreamClient;
const orderId = crypto.randomUUID();
const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
let env: Record<string, string>;
const seqs: number[] = [];

/** An event draft of any type, without the ids this file fills in. */
type Draft<E = EventDraft> = E extends unknown ? Omit<E, "orderId" | "userId"> : never;

async function publish(draft: Draft): Promise<void> {
  const event = completeEvent({ ...draft, orderId, userId: "cli-user" } as EventDraft);
  const h = headers();
  h.set("traceparent", `00-${traceId}-00f067aa0ba902b7-01`);
  seqs.push((await js.publish(eventSubject(orderId, event.eventType), JSON.stringify(event), { msgID: event.eventId, headers: h })).seq);
}

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connectNats({ servers: [nats.url], name: "cli-spec", failFast: true });
  js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  await ensureOrderStreams(jsm, 1);
  await ensureDeadLetterStreams(jsm, 1);
  await publish({ eventType: "ORDER_CREATED", amount: 20, currency: "USD", items: [{ sku: "A-1", quantity: 1, unitPrice: 20 }] });
  await publish({ eventType: "PAYMENT_COMPLETED", paymentId: "pay-1", amount: 20, currency: "USD" });
  env = { NATS_URL: nats.url };
});

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

/** Exit 1 and exactly one line on stderr, matching `reason`. */
function expectFailure(result: { code: number | null; stderr: string }, reason: RegExp): void {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr).toMatch(/^orderstream: [^\n]+\n$/);
  expect(result.stderr).toMatch(reason);
}

describe("help and exit codes", () => {
  it("--help lists the commands and exit codes (exit 0); <command> --help explains one", async () => {
    const usage = await runCli(["--help"], env);
    expect(usage.code).toBe(0);
    for (const c of ["events <orderId>", "trace <orderId>", "replay --consumer", "dlq list", "dlq retry <seq>", "rebuild-view"])
      expect(usage.stdout).toContain(c);
    expect(usage.stdout).toMatch(/exit codes: 0 success/);
    const help = await runCli(["events", "--help"], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: orderstream events <orderId> \[--json\]/);
    expect(help.stderr).toBe("");
  });

  it("--version and -V print package.json's version (exit 0), also through the npx entry bin/orderstream.mjs", async () => {
    const { version } = JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) expect(await runCli([flag], env)).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
    const bin = spawnSync(process.execPath, ["bin/orderstream.mjs", "--version"], { cwd: REPO_ROOT, encoding: "utf8", timeout: 60_000 });
    expect({ code: bin.status, stdout: bin.stdout }).toEqual({ code: 0, stdout: `${version}\n` });
  });

  it("an unknown command or option, a missing or bad argument, or no command is exit 2: the reason, then the usage on stderr", async () => {
    const cases: [string[], RegExp, string][] = [
      [[], /no command given/, "usage: orderstream <command> [options]"],
      [["nope"], /unknown command "nope"/, "usage: orderstream <command> [options]"],
      [["--nope"], /unknown option "--nope"/, "usage: orderstream <command> [options]"],
      [["events", orderId, "--jsn"], /Unknown option '--jsn'/, "usage: orderstream events <orderId> [--json]"],
      [["dlq", "retry"], /dlq retry needs <seq>/, "usage: orderstream dlq retry <seq>"],
      [["replay", "--consumer", "payment"], /replay needs --from-seq <N> or --from-time <ISO>/, "usage: orderstream replay --consumer"],
    ];
    for (const [argv, reason, usage] of cases) {
      const result = await runCli(argv, env);
      expect(result.code, `${argv.join(" ")}: ${result.stderr}`).toBe(2);
      expect(result.stdout).toBe("");
      const [first, blank, ...rest] = result.stderr.split("\n");
      expect(first).toMatch(/^orderstream: /);
      expect(first).toMatch(reason);
      expect(blank).toBe("");
      expect(rest.join("\n").startsWith(usage), result.stderr).toBe(true);
    }
  });

  it("an unreachable NATS is exit 1 with one line naming it", async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    expectFailure(await runCli(["events", orderId], { NATS_URL: url }), new RegExp(`cannot connect to NATS at ${url}`));
  });
});

describe("events", () => {
  it("prints the timeline as a table, or with --json the events as GET /orders/{id}/events answers them", async () => {
    const table = await runCli(["events", orderId], env);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^SEQ +TIME +EVENT +DETAIL\n/);
    expect(table.stdout).toContain("PAYMENT_COMPLETED");

    const json = await runCli(["events", orderId, "--json"], env);
    expect(json.code, json.stderr).toBe(0);
    const events = JSON.parse(json.stdout);
    expect(events).toEqual([
      {
        seq: seqs[0],
        subject: eventSubject(orderId, "ORDER_CREATED"),
        time: expect.any(String),
        eventType: "ORDER_CREATED",
        data: expect.objectContaining({ orderId, amount: 20 }),
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      },
      {
        seq: seqs[1],
        subject: eventSubject(orderId, "PAYMENT_COMPLETED"),
        time: expect.any(String),
        eventType: "PAYMENT_COMPLETED",
        data: expect.objectContaining({ paymentId: "pay-1" }),
        traceparent: expect.any(String),
      },
    ]);
  });

  it("an order not in the stream is exit 1, and nothing on stdout even with --json", async () => {
    const result = await runCli(["events", crypto.randomUUID(), "--json"], env);
    expectFailure(result, /no order [0-9a-f-]+ in the ORDERS stream/);
    expect(result.stdout).toBe("");
  });
});

describe("trace --json", () => {
  it("prints the API's trace document, and exits 1 when Jaeger has no spans", async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const result = await runCli(["trace", orderId, "--json"], { ...env, JAEGER_QUERY_URL: closed });
    expectFailure(result, /no spans for trace 4bf92f3577b34da6a3ce929d0e0e4736 from Jaeger/);
    expect(JSON.parse(result.stdout)).toEqual({
      orderId,
      traceId,
      jaegerUrl: `${closed}/trace/${traceId}`,
      spans: null,
      warning: expect.any(String),
    });
  });
});

describe("dlq list", () => {
  it("prints [] with --json when empty, then the dead letters with their ORDERS sequence", async () => {
    const empty = await runCli(["dlq", "list", "--json"], env);
    expect(empty.code, empty.stderr).toBe(0);
    expect(JSON.parse(empty.stdout)).toEqual([]);
    expect((await runCli(["dlq", "list"], env)).stdout).toBe("the dead-letter queue is empty\n");

    await writeDeadLetter(js, {
      subject: eventSubject(orderId, "PAYMENT_COMPLETED"),
      streamSeq: seqs[1]!,
      data: new TextEncoder().encode("{}"),
      consumer: "shipping-p03",
      reason: "webhook answered 500",
      deliveries: 8,
      source: "service",
    });
    const listed = await runCli(["dlq", "list", "--json"], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      {
        streamSeq: seqs[1],
        consumer: "shipping-p03",
        subject: eventSubject(orderId, "PAYMENT_COMPLETED"),
        deliveries: 8,
        time: expect.any(String),
        reason: "webhook answered 500",
        source: "service",
        dlqSeq: expect.any(Number),
        body: "{}",
      },
    ]);
    const table = await runCli(["dlq", "list"], env);
    expect(table.stdout).toMatch(new RegExp(`^${seqs[1]}\\tshipping-p03\\t`, "m"));
  });
});

describe("rebuild-view", () => {
  it("without a terminal prints plain progress lines (done / total, events/s) and the summary", async () => {
    const result = await runCli(["rebuild-view"], env);
    expect(result.code, result.stderr).toBe(0);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: no carriage return, no escape sequence when not a terminal
    expect(result.stdout).not.toMatch(/\r|\u001b/);
    expect(result.stdout).toMatch(/^rebuild-view: 0 \/ 2 events \(0%\), – events\/s, ETA \?$/m);
    expect(result.stdout).toMatch(/^rebuild-view: 2 \/ 2 events \(100%\), .* events\/s, took \d+:\d\d$/m); // elapsed time depends on the machine's load
    expect(result.stdout).toMatch(/^rebuilt 1 order views from 2 events in [\d.]+ s: 0 CREATED, 1 PAID, 0 SHIPPING_READY, 0 CANCELLED$/m);
  });

  it("with --json prints only the result", async () => {
    const result = await runCli(["rebuild-view", "--json"], env);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      events: 2,
      total: 2,
      orders: 1,
      byStatus: { CREATED: 0, PAID: 1, SHIPPING_READY: 0, CANCELLED: 0 },
      invalid: 0,
      orphans: 0,
      lastSeq: seqs[1],
      seconds: expect.any(Number),
    });
  });
});
