/**
 * `dlq retry` on the service's side (nats/dead-letter-retry.ts) against a real nats-server: a retry
 * request hands the original ORDERS message to a fresh handler and removes the dead letter when it
 * succeeds; a failing one keeps it (tried three times in all); one whose message is not a valid
 * event is dropped without calling the handler.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { startNatsServer, type NatsServerHandle } from "../test/support/nats-server.ts";
import { anEvent } from "../shared/testing/decider-spec.ts";
import { newOrderId } from "../shared/ids.ts";
import { createLogger } from "../shared/logger.ts";
import { listDeadLetters, requestRetry } from "./dead-letter-queue.ts";
import { writeDeadLetter } from "./dead-letter-write.ts";
import { startRetryProcessor } from "./dead-letter-retry.ts";
import { ensureDeadLetterStreams, ensureOrderStreams } from "./setup.ts";
import { DLQ_STREAM, dlqRetryConsumer } from "./subjects.ts";
import { consumerName, eventSubject, partitionOf } from "./subjects.ts";
import type { Delivery, PartitionHandler } from "./delivery.ts";
import type { OrderEvent } from "../shared/events.ts";

let server: NatsServerHandle;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let stopRetries: () => Promise<void>;

interface Call {
  handler: number;
  event: OrderEvent;
  delivery: Delivery;
}
const calls: Call[] = [];
/** How the next handler calls end, by order id: "fail" throws. */
const behaviour = new Map<string, "fail">();
let handlersMade = 0;

function makeHandler(): PartitionHandler {
  const id = ++handlersMade;
  return {
    async handle(event, delivery) {
      calls.push({ handler: id, event, delivery });
      if (behaviour.get(event.orderId) === "fail") throw new Error("still broken");
    },
    forget() {},
  };
}

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  await ensureOrderStreams(jsm, 1);
  await ensureDeadLetterStreams(jsm, 1);
  stopRetries = await startRetryProcessor({
    js,
    jsm,
    service: "payment",
    handlers: makeHandler,
    log: createLogger("dlq-retry-spec", "silent"),
  });
});

afterAll(async () => {
  await stopRetries?.();
  await nc?.close();
  await server?.stop();
});

/** An ORDERS message and its dead letter, as the payment worker of its partition would have written it. */
async function deadLettered(body?: string): Promise<{ orderId: string; seq: number; consumer: string }> {
  const orderId = newOrderId();
  const subject = eventSubject(orderId, "ORDER_CREATED");
  const data = new TextEncoder().encode(body ?? JSON.stringify(anEvent("ORDER_CREATED", { orderId })));
  const seq = (await js.publish(subject, data)).seq;
  const consumer = consumerName("payment", partitionOf(orderId));
  await writeDeadLetter(js, {
    consumer,
    streamSeq: seq,
    subject,
    data,
    headers: undefined,
    reason: "handler failed 8 times",
    deliveries: 8,
    source: "service",
  });
  return { orderId, seq, consumer };
}

async function letterOf(seq: number) {
  return (await listDeadLetters(jsm)).find((d) => d.streamSeq === seq);
}

/** Polls `probe` until it returns true (bounded: 100 tries, 10 s). */
async function eventually(what: string, probe: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (let i = 0; i < 100 && Date.now() < deadline; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("dead-letter retries", () => {
  it("hand the original event to a fresh handler (not first sight) and remove the dead letter once it succeeds", async () => {
    const { orderId, seq, consumer } = await deadLettered();
    const made = handlersMade;
    expect(await letterOf(seq)).toBeDefined();
    expect((await requestRetry(js, jsm, seq)).map((d) => d.consumer)).toEqual([consumer]);
    await eventually("the dead letter removed", async () => (await letterOf(seq)) === undefined);
    const mine = calls.filter((c) => c.event.orderId === orderId);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.handler).toBeGreaterThan(made);
    expect(mine[0]!.event).toEqual(anEvent("ORDER_CREATED", { orderId }));
    expect(mine[0]!.delivery).toMatchObject({ seq, consumer, subject: eventSubject(orderId, "ORDER_CREATED"), firstSight: false });
  });

  it("keep the dead letter when the handler fails again, trying three times in all", async () => {
    const { orderId, seq } = await deadLettered();
    behaviour.set(orderId, "fail");
    await requestRetry(js, jsm, seq);
    await eventually("three attempts", () => calls.filter((c) => c.event.orderId === orderId).length === 3);
    const attempts = calls.filter((c) => c.event.orderId === orderId).map((c) => c.delivery.attempt);
    expect(attempts).toEqual([1, 2, 3]);
    // A fourth is never made: the request was terminated after the third.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(calls.filter((c) => c.event.orderId === orderId)).toHaveLength(3);
    expect(await letterOf(seq)).toMatchObject({ streamSeq: seq, reason: "handler failed 8 times" });
  });

  it("drop a request whose message is still not a valid event, without calling a handler, and keep its dead letter", async () => {
    const { orderId, seq } = await deadLettered("{not json");
    const retryMessagesBefore = (await jsm.streams.info(DLQ_STREAM)).state.messages;
    await requestRetry(js, jsm, seq);
    await eventually("the request settled", async () => {
      const info = await jsm.consumers.info(DLQ_STREAM, dlqRetryConsumer("payment"));
      return (
        info.num_pending === 0 && info.num_ack_pending === 0 && (await jsm.streams.info(DLQ_STREAM)).state.messages > retryMessagesBefore
      );
    });
    expect(calls.some((c) => c.event.orderId === orderId)).toBe(false);
    expect(await letterOf(seq)).toBeDefined();
  });
});
