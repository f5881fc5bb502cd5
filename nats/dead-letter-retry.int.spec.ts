/**
 * `dlq retry` on the service's side (nats/dead-letter-retry.ts) against a real nats-server: a retry
 * request hands the original ORDERS message to a fresh handler and removes the dead letter when it
 * succeeds; a failing one keeps it (tried three times in all); one whose message is not a valid
 * event is dropped without calling the handler.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useNatsServer } from "../test/support/use-nats-server.ts";
import { waitUntil } from "../test/support/processes.ts";
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

const nats = useNatsServer();
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
  await ensureOrderStreams(nats.jsm, 1);
  await ensureDeadLetterStreams(nats.jsm, 1);
  stopRetries = await startRetryProcessor({
    js: nats.js,
    jsm: nats.jsm,
    service: "payment",
    handlers: makeHandler,
    log: createLogger("dlq-retry-spec", "silent"),
  });
});

afterAll(async () => {
  await stopRetries?.();
});

/** An ORDERS message and its dead letter, as the payment worker of its partition would have written it. */
async function deadLettered(body?: string): Promise<{ orderId: string; seq: number; consumer: string }> {
  const orderId = newOrderId();
  const subject = eventSubject(orderId, "ORDER_CREATED");
  const data = new TextEncoder().encode(body ?? JSON.stringify(anEvent("ORDER_CREATED", { orderId })));
  const seq = (await nats.js.publish(subject, data)).seq;
  const consumer = consumerName("payment", partitionOf(orderId));
  await writeDeadLetter(nats.js, {
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
  return (await listDeadLetters(nats.jsm)).find((d) => d.streamSeq === seq);
}

describe("dead-letter retries", () => {
  it("hand the original event to a fresh handler (not first sight) and remove the dead letter once it succeeds", async () => {
    const { orderId, seq, consumer } = await deadLettered();
    const made = handlersMade;
    expect(await letterOf(seq)).toBeDefined();
    expect((await requestRetry(nats.js, nats.jsm, seq)).map((d) => d.consumer)).toEqual([consumer]);
    await waitUntil(async () => (await letterOf(seq)) === undefined, { what: "the dead letter removed" });
    const mine = calls.filter((c) => c.event.orderId === orderId);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.handler).toBeGreaterThan(made);
    expect(mine[0]!.event).toEqual(anEvent("ORDER_CREATED", { orderId }));
    expect(mine[0]!.delivery).toMatchObject({ seq, consumer, subject: eventSubject(orderId, "ORDER_CREATED"), firstSight: false });
  });

  it("keep the dead letter when the handler fails again, trying three times in all", async () => {
    const { orderId, seq } = await deadLettered();
    behaviour.set(orderId, "fail");
    await requestRetry(nats.js, nats.jsm, seq);
    await waitUntil(() => calls.filter((c) => c.event.orderId === orderId).length === 3, { what: "three attempts" });
    const attempts = calls.filter((c) => c.event.orderId === orderId).map((c) => c.delivery.attempt);
    expect(attempts).toEqual([1, 2, 3]);
    // A fourth is never made: the request was terminated after the third.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(calls.filter((c) => c.event.orderId === orderId)).toHaveLength(3);
    expect(await letterOf(seq)).toMatchObject({ streamSeq: seq, reason: "handler failed 8 times" });
  });

  it("drop a request whose message is still not a valid event, without calling a handler, and keep its dead letter", async () => {
    const { orderId, seq } = await deadLettered("{not json");
    const retryMessagesBefore = (await nats.jsm.streams.info(DLQ_STREAM)).state.messages;
    await requestRetry(nats.js, nats.jsm, seq);
    await waitUntil(
      async () => {
        const info = await nats.jsm.consumers.info(DLQ_STREAM, dlqRetryConsumer("payment"));
        return (
          info.num_pending === 0 &&
          info.num_ack_pending === 0 &&
          (await nats.jsm.streams.info(DLQ_STREAM)).state.messages > retryMessagesBefore
        );
      },
      { what: "the request settled" },
    );
    expect(calls.some((c) => c.event.orderId === orderId)).toBe(false);
    expect(await letterOf(seq)).toBeDefined();
  });
});
