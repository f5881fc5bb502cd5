/**
 * Runs a service's partition consumers: every instance pulls every partition; the consumer's
 * `max_ack_pending: 1` lets only one message per partition be in flight across all instances, so
 * one order's events are handled in stream order whoever handles them.
 *
 * Per message: validate (schema, and that the subject names the same order and type), hand it to
 * the handler with a CONSUMER span that is a child of the producer's span (its context travels in
 * `Delivery.trace`, not in async-local storage: see otel/sdk.ts), then settle it:
 * ack when the handler's effects are durable, nak with a growing delay when it failed, term when
 * the message can never be handled, dead-letter once its deliveries are used up.
 */
import { startConsumerSpan } from "./consumer-span.ts";
import { rebindDelayMs, stopWhenDeleted } from "./durable-loop.ts";
import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { errors } from "@nats-io/transport-node";
import { SpanStatusCode, type Context, type Span } from "@opentelemetry/api";
import { parseEvent, type OrderEvent } from "../shared/events.ts";
import { traceFields, type Logger } from "../shared/logger.ts";
import { MessagingAttr } from "../otel/messaging-attributes.ts";
import { MAX_DELIVER } from "./definitions.ts";
import type { PartitionBacklog } from "./jetstream-stats.ts";
import { consumerName, ORDERS_STREAM, parseEventSubject, PARTITIONS, type EventSubject, type ServiceName } from "./subjects.ts";

const decoder = new TextDecoder();

/** Facts about one delivery that handlers and logs need. */
export interface Delivery {
  seq: number;
  subject: string;
  consumer: string;
  deliveryCount: number;
  /** The producer's trace headers, as stored with the message. */
  traceparent: string | null;
  /**
   * The trace context of this delivery's CONSUMER span: events published while handling it are
   * its children when published with it (`EventPublisher.publish(draft, delivery.trace)`).
   */
  trace: Context;
  /**
   * Names an unbroken run of deliveries of this consumer that this instance alone received and
   * acked, each right after the one before (consecutive delivery sequences); null outside a
   * partition consumer. With one message in flight per partition, nothing of the partition was
   * handled elsewhere during the run, so state this instance wrote during it is still current.
   */
  streak: string | null;
  /** Lets a long handler keep the message from being redelivered elsewhere. */
  working(): void;
}

export type EventHandler = (event: OrderEvent, delivery: Delivery) => Promise<void>;

/** Called when a message is given up; the dead-letter issue writes it to the DLQ stream. */
export type GiveUp = (msg: JsMsg, consumer: string, reason: string) => Promise<void>;

export interface PartitionedConsumerOptions {
  js: JetStreamClient;
  service: ServiceName;
  handler: EventHandler;
  log: Logger;
  /** Event types this service acts on; others are acked at once without work. */
  relevant: ReadonlySet<string>;
  giveUp?: GiveUp;
  /** Delay before a failed message is redelivered, by delivery count. */
  retryDelayMs?: (deliveryCount: number) => number;
  /** Told how each delivery ended (the metrics hook; keeps this layer free of a metrics library). */
  onHandled?: (report: HandledReport) => void;
  /** Kept up to date from every binding and delivery (the backlog gauges). */
  backlog?: PartitionBacklog;
}

/**
 * How one delivery ended: handled and acked (ok), acked without work (skipped: not an event type
 * the service acts on), handed back for redelivery (retried), given up to the DLQ (dead_lettered),
 * or not a valid order event (rejected).
 */
export type HandleOutcome = "ok" | "skipped" | "retried" | "dead_lettered" | "rejected";

export interface HandledReport {
  /** The event's type, or "invalid" when the message is not a valid order event. */
  eventType: string;
  outcome: HandleOutcome;
  /** How long the service's handler ran; absent when it was not called. */
  handlerSeconds?: number;
}

export interface RunningConsumers {
  /** Stops pulling, waits for in-flight messages to be settled. */
  stop(): Promise<void>;
}

/** base, 2×base, 4×base, … capped at 10 s (base 250 ms by default). */
export function defaultRetryDelayMs(deliveryCount: number, baseMs = 250): number {
  return Math.min(10_000, baseMs * 2 ** Math.max(0, deliveryCount - 1));
}

/**
 * How long one pull request lives on the server; the client's idle heartbeat is half of it. A pull
 * request the server forgot (the consumer was recreated by a replay, its leader moved to another
 * cluster node, the server restarted) is noticed after two missed heartbeats and re-issued, so this
 * bounds how long a partition can sit unpulled. (The client default, 30 s, stalled a partition for
 * ~30 s after each of those.)
 */
export const PULL_EXPIRES_MS = 5_000;
/** Messages one pull request asks for (see the loop). */
const PULL_BATCH = 64;

/** Starts pulling all partitions; resolves once every consumer is bound. */
export async function startPartitionedConsumers(opts: PartitionedConsumerOptions): Promise<RunningConsumers> {
  const names = Array.from({ length: PARTITIONS }, (_, p) => consumerName(opts.service, p));
  const consumers: Consumer[] = await Promise.all(names.map((name) => opts.js.consumers.get(ORDERS_STREAM, name)));
  let stopping = false;
  let bindings = 0;
  const iterators = new Set<ConsumerMessages>();
  const pullLoop = async (name: string, bound: Consumer): Promise<void> => {
    let consumer: Consumer | undefined = bound;
    let failures = 0;
    while (!stopping) {
      try {
        consumer ??= await opts.js.consumers.get(ORDERS_STREAM, name);
        // The info that binding fetched: the backlog before this binding's first delivery.
        opts.backlog?.read(name, (await consumer.info(true)).num_pending);
        // The consumer's max_ack_pending (1) keeps one message in flight whatever the batch; a
        // bigger batch only means one pull request serves many messages instead of one each.
        const messages = await consumer.consume({ max_messages: PULL_BATCH, expires: PULL_EXPIRES_MS });
        // A new binding starts new streaks: a recreated consumer numbers its deliveries from 1 again.
        const streaks = new DeliveryStreaks(`${name}#${++bindings}`);
        iterators.add(messages);
        if (stopping) messages.stop();
        // A replay deletes and recreates the durable: start over on the new one at once.
        stopWhenDeleted(messages);
        for await (const msg of messages) {
          if (stopping) {
            // Pulled after stop began: hand it straight back so another instance takes it.
            msg.nak();
            continue;
          }
          failures = 0;
          await handleMessage(opts, name, msg, streaks);
        }
        iterators.delete(messages);
      } catch (err) {
        if (err instanceof errors.ClosedConnectionError || err instanceof errors.DrainingConnectionError) return;
        failures++;
        // Typically the consumer is missing for a moment (being recreated): bind again shortly.
        if (!stopping) opts.log.warn({ err, consumer: name }, "consumer pull loop interrupted; binding again");
      }
      consumer = undefined;
      if (!stopping) await new Promise((r) => setTimeout(r, rebindDelayMs(failures)));
    }
  };
  const loops = consumers.map((consumer, i) =>
    pullLoop(names[i]!, consumer).catch((err) => opts.log.error({ err, consumer: names[i] }, "consumer loop ended with an error")),
  );
  return {
    async stop() {
      stopping = true;
      for (const messages of iterators) messages.stop();
      await Promise.all(loops);
    },
  };
}

/** Tracks one binding's streaks of consecutive deliveries that this instance acked (Delivery.streak). */
export class DeliveryStreaks {
  private run = 0;
  private nextDeliverySeq = -1;
  constructor(private readonly binding: string) {}

  /** The streak this delivery belongs to; a gap in the delivery sequence starts a new one. */
  of(msg: Pick<JsMsg, "info">): string {
    if (msg.info.deliverySequence !== this.nextDeliverySeq) this.run++;
    return `${this.binding}/${this.run}`;
  }

  acked(msg: Pick<JsMsg, "info">): void {
    this.nextDeliverySeq = msg.info.deliverySequence + 1;
  }

  /** Anything but an ack may hand the partition to another instance. */
  broken(): void {
    this.nextDeliverySeq = -1;
  }
}

async function handleMessage(opts: PartitionedConsumerOptions, consumer: string, msg: JsMsg, streaks: DeliveryStreaks): Promise<void> {
  const deliveryCount = msg.info.deliveryCount;
  opts.backlog?.delivered(consumer, msg.info.pending, deliveryCount);
  const streak = streaks.of(msg);
  const parsedSubject = parseEventSubject(msg.subject);
  const eventType = parsedSubject?.eventType ?? "unknown";
  const { span, context: spanContext } = startConsumerSpan({
    subject: msg.subject,
    seq: msg.seq,
    consumer,
    deliveryCount,
    bodySize: msg.data.byteLength,
    headers: msg.headers,
    parsedSubject,
  });
  // Every line about this message carries its order id and stream sequence. Made only when a line
  // is written: a pino child per message showed up in the benchmark's profile.
  let child: Logger | undefined;
  const log = () => (child ??= opts.log.child({ seq: msg.seq, consumer, orderId: parsedSubject?.orderId, eventType, ...traceFields(span) }));
  // Label values stay bounded: a validated event's type, else "invalid" (never the raw subject).
  let typeLabel = "invalid";
  let handlerStarted: number | undefined;
  const report = (outcome: HandleOutcome) =>
    opts.onHandled?.({
      eventType: typeLabel,
      outcome,
      ...(handlerStarted === undefined ? {} : { handlerSeconds: (performance.now() - handlerStarted) / 1000 }),
    });
  try {
    const event = decodeEvent(msg, parsedSubject);
    if (typeof event === "string") {
      streaks.broken();
      report((await reject(opts, consumer, msg, span, log(), event)) ? "rejected" : "retried");
      return;
    }
    typeLabel = event.eventType;
    span.setAttribute(MessagingAttr.messageId, event.eventId);
    if (!opts.relevant.has(event.eventType)) {
      msg.ack();
      streaks.acked(msg);
      report("skipped");
      return;
    }
    const delivery: Delivery = {
      seq: msg.seq,
      subject: msg.subject,
      consumer,
      deliveryCount,
      traceparent: msg.headers?.get("traceparent") || null,
      trace: spanContext,
      streak,
      working: () => msg.working(),
    };
    handlerStarted = performance.now();
    await opts.handler(event, delivery);
    msg.ack();
    streaks.acked(msg);
    report("ok");
  } catch (err) {
    streaks.broken();
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    if (deliveryCount >= MAX_DELIVER) {
      log().error({ err, deliveryCount }, "handler failed on the last delivery; giving the message up");
      const dead = await giveUp(opts, consumer, msg, log(), `handler failed ${deliveryCount} times: ${(err as Error).message}`);
      report(dead ? "dead_lettered" : "retried");
    } else {
      const delay = (opts.retryDelayMs ?? defaultRetryDelayMs)(deliveryCount);
      log().warn({ err, deliveryCount, retryInMs: delay }, "handler failed; message will be redelivered");
      msg.nak(delay);
      report("retried");
    }
  } finally {
    opts.backlog?.settled(consumer);
    span.end();
  }
}

/** The event in a message, or why it is not one (bad JSON, schema, or subject mismatch). */
export function decodeEvent(
  msg: Pick<JsMsg, "data" | "subject">,
  subject: EventSubject | null = parseEventSubject(msg.subject),
): OrderEvent | string {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(msg.data));
  } catch {
    return "message body is not JSON";
  }
  const parsed = parseEvent(value);
  if (!parsed.ok) return parsed.reason;
  if (!subject || subject.orderId !== parsed.event.orderId || subject.eventType !== parsed.event.eventType) {
    return `subject ${msg.subject} does not match event ${parsed.event.eventType} of order ${parsed.event.orderId}`;
  }
  return parsed.event;
}

async function reject(
  opts: PartitionedConsumerOptions,
  consumer: string,
  msg: JsMsg,
  span: Span,
  log: Logger,
  reason: string,
): Promise<boolean> {
  span.setStatus({ code: SpanStatusCode.ERROR, message: reason });
  log.error({ reason }, "rejected a message that is not a valid order event");
  return giveUp(opts, consumer, msg, log, reason);
}

/** Dead-letters and terminates the message; false when the dead letter could not be written. */
async function giveUp(opts: PartitionedConsumerOptions, consumer: string, msg: JsMsg, log: Logger, reason: string): Promise<boolean> {
  try {
    await opts.giveUp?.(msg, consumer, reason);
  } catch (err) {
    // Without a dead letter the message must not be lost: let it redeliver.
    log.error({ err }, "could not write the dead letter; message will be redelivered");
    msg.nak(defaultRetryDelayMs(msg.info.deliveryCount));
    return false;
  }
  // Bare term(): a reason string needs server ≥ 2.10.4 and makes 2.9 redeliver instead.
  msg.term();
  return true;
}
