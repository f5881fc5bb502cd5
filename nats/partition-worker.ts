/**
 * One partition of one service, on the instance that owns it. The partition's consumer is pinned to
 * one puller (priority group `pinned_client`), so while this instance holds the pin every event of
 * the partition's orders that the service acts on comes here, in stream order. Here:
 *
 * - Events of different orders are handled concurrently (publishes and acknowledgements pipelined);
 *   one order's events run one after the other, in stream order. A failing event is retried here
 *   (growing pauses, MAX_DELIVER attempts, then a dead letter) and holds back only its own order.
 * - Acknowledgement is cumulative (ack policy "all"): once every event up to a sequence is done, one
 *   ack of the highest of them settles them all, at most one ack per partition per event-loop turn.
 * - Taking over: the first message under a new pin id means the partition changed hands (or was
 *   pinned again after a gap). Whatever the server delivered to the previous owner and nobody
 *   acknowledged (above the consumer's ack floor, up to its last delivered sequence) is read from the
 *   stream and handled first, before anything delivered here — the server would hand it out again
 *   only after ack_wait, and later events of the same orders must not overtake it. Handlers are
 *   idempotent, so an event the previous owner had in fact finished is harmless to redo.
 * - Stopping (shutdown or hand-over): nothing new is taken, what was taken finishes (an event waiting
 *   for its next attempt is left to the next owner), the floor is acknowledged, and the pin is
 *   released so the next owner is pinned at once.
 */
import type { Consumer, ConsumerInfo, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg, StoredMsg } from "@nats-io/jetstream";
import { errors, type MsgHdrs } from "@nats-io/transport-node";
import { SpanStatusCode } from "@opentelemetry/api";
import { traceFields, type Logger } from "../shared/logger.ts";
import { MessagingAttr } from "../otel/messaging-attributes.ts";
import { startConsumerSpan } from "./consumer-span.ts";
import { MAX_DELIVER, OWNER_TTL_MS } from "./definitions.ts";
import { decodeEvent, type Delivery, type GiveUp, type HandledReport, type HandleOutcome, type PartitionHandler } from "./delivery.ts";
import { rebindDelayMs, stopWhenDeleted } from "./durable-loop.ts";
import { readPartitionRange } from "./order-history.ts";
import type { Topology } from "../shared/config.ts";
import {
  CONSUMED_EVENT_TYPES,
  consumerName,
  ORDERS_STREAM,
  OWNER_GROUP,
  parseEventSubject,
  partitionSubjectFilters,
  type EventSubject,
  type ServiceName,
} from "./subjects.ts";

/** Messages one pull asks for; nats.js asks again when a quarter of them arrived. */
const PULL_BATCH = 64;
/**
 * Orders handled at once per partition: enough to keep publishes pipelined, few enough that a
 * backlog (up to MAX_ACK_PENDING events delivered ahead) waits as messages, not as handlers holding
 * spans and publishes in flight.
 */
const CONCURRENT_ORDERS = 32;
/**
 * How long one pull request lives. The pin is kept only by pulls that carry its id, so an idle owner
 * must pull again well within OWNER_TTL_MS; a forgotten pull (server restart, consumer recreated) is
 * noticed after two missed heartbeats (half of this each).
 */
export const PULL_EXPIRES_MS = Math.min(2_000, Math.floor(OWNER_TTL_MS / 2));

export interface PartitionWorkerOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  service: ServiceName;
  partition: number;
  handler: PartitionHandler;
  log: Logger;
  /** Writes the dead letter of an event given up (invalid, or out of attempts). */
  giveUp?: GiveUp;
  /** Pause before the next attempt at a failed event, by attempts made. */
  retryDelayMs(attempt: number): number;
  /** Told how each event ended (the metrics hook; keeps this layer free of a metrics library). */
  onHandled?(report: HandledReport): void;
  maxAttempts?: number;
  /** Which subject forms the partition's consumer holds (nats/subjects.ts); default single-site. */
  topology?: Topology;
}

/** What a consumer reports for the JetStream gauges, as this worker sees it. */
export interface WorkerStats {
  consumer: string;
  /** Events taken and not yet acknowledged (handling, waiting behind their order, or done above the floor). */
  unacked: number;
}

type EntryState = "queued" | "running" | "done" | "abandoned";

/** One event taken for handling: delivered here, or read from the stream on taking over. */
interface Entry {
  seq: number;
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
  /** The latest delivery of the message here; undefined for one read from the stream (until redelivered). */
  msg: JsMsg | undefined;
  firstSight: boolean;
  /** The subject's tokens (null: not an event subject; the entry is then rejected). */
  parsed: EventSubject | null;
  state: EntryState;
}

export class PartitionWorker {
  readonly consumer: string;
  /** Whether the "handled" line is logged (LOG_LEVEL info or below): its fields are not even built otherwise. */
  private readonly logHandled: boolean;
  private readonly types: ReadonlySet<string>;
  private readonly maxAttempts: number;
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  /** `created` of the consumer bound last: a new one (a replay recreated it) numbers from scratch. */
  private consumerCreated = "";
  /** Stream's last sequence when the consumer was bound: what is at or below may have been handled. */
  private horizon = Number.MAX_SAFE_INTEGER;
  private pin = "";
  private epoch = 0;
  private catchingUp = false;
  private buffered: JsMsg[] = [];
  /** Entries not yet under the floor, ascending by sequence. */
  private readonly window: Entry[] = [];
  private readonly entries = new Map<number, Entry>();
  /** Highest sequence under the floor: everything up to it is done. */
  private floor = 0;
  private ackable: JsMsg | undefined;
  private ackScheduled = false;
  private readonly orders = new Map<string, Entry[]>();
  /** Orders with events waiting for one of the CONCURRENT_ORDERS slots. */
  private readonly waitingOrders: string[] = [];
  private runningOrders = 0;
  private readonly sleeping = new Set<() => void>();
  private idle: (() => void) | undefined;

  constructor(private readonly opts: PartitionWorkerOptions) {
    this.consumer = consumerName(opts.service, opts.partition);
    this.types = new Set(CONSUMED_EVENT_TYPES[opts.service]);
    this.maxAttempts = opts.maxAttempts ?? MAX_DELIVER;
    this.logHandled = opts.log.isLevelEnabled("info");
  }

  /** Binds the consumer (trying again while NATS does not answer) and pulls; rebinds whenever it breaks. */
  async start(): Promise<void> {
    let consumer: Consumer | undefined;
    for (let failures = 1; !consumer && !this.stopping; failures++) {
      try {
        consumer = await this.bind();
      } catch (err) {
        if (err instanceof errors.ClosedConnectionError || err instanceof errors.DrainingConnectionError) throw err;
        this.opts.log.warn({ err, consumer: this.consumer }, "could not bind the partition consumer; trying again");
        await new Promise((r) => setTimeout(r, rebindDelayMs(failures)));
      }
    }
    this.loop = (async () => {
      let failures = 0;
      while (!this.stopping) {
        try {
          consumer ??= await this.bind();
          const messages = await consumer.consume({
            group: OWNER_GROUP,
            max_messages: PULL_BATCH,
            expires: PULL_EXPIRES_MS,
            callback: (m) => this.delivered(m),
          });
          this.messages = messages;
          if (this.stopping) messages.stop();
          // A replay deletes and recreates the durable: bind the new one at once.
          stopWhenDeleted(messages);
          failures = 0;
          await messages.closed();
        } catch (err) {
          if (err instanceof errors.ClosedConnectionError || err instanceof errors.DrainingConnectionError) return;
          failures++;
          if (!this.stopping) this.opts.log.warn({ err, consumer: this.consumer }, "partition pull interrupted; binding again");
        }
        this.messages = undefined;
        consumer = undefined;
        if (!this.stopping) await new Promise((r) => setTimeout(r, rebindDelayMs(failures)));
      }
    })();
  }

  /**
   * Stops taking messages, lets what was taken finish, acknowledges the floor and releases the pin
   * (when `handOver`), so that the next owner is pinned at its next message instead of after the TTL.
   */
  async stop(handOver = true): Promise<void> {
    this.stopping = true;
    this.messages?.stop();
    for (const wake of this.sleeping) wake();
    await this.settled();
    this.flushAck();
    await this.loop;
    if (handOver && this.pin) await this.releasePin().catch(() => {});
  }

  stats(): WorkerStats {
    return { consumer: this.consumer, unacked: this.window.length };
  }

  private async bind(): Promise<Consumer> {
    const consumer = await this.opts.js.consumers.get(ORDERS_STREAM, this.consumer);
    const info = await consumer.info(true);
    if (info.created !== this.consumerCreated) {
      // A new consumer (first bind, or recreated by a replay): its sequences start over here too.
      this.consumerCreated = info.created;
      this.resetSequences();
    }
    this.horizon = (await this.opts.jsm.streams.info(ORDERS_STREAM)).state.last_seq;
    return consumer;
  }

  private resetSequences(): void {
    // What is still running of the old consumer finishes, but is no longer acknowledged through it.
    for (const entry of this.window) entry.msg = undefined;
    this.window.length = 0;
    this.entries.clear();
    this.floor = 0;
    this.ackable = undefined;
    this.pin = "";
  }

  private delivered(msg: JsMsg): void {
    if (this.stopping) return; // not taken, not acknowledged: the next owner takes it over
    const pin = msg.headers?.get("Nats-Pin-Id") ?? "";
    if (pin !== this.pin) {
      this.pin = pin;
      this.takeOver(msg);
      return;
    }
    if (this.catchingUp) this.buffered.push(msg);
    else this.take(msg);
  }

  /** A new pin: forget what the handler remembers, take over what the previous owner left, then go on. */
  private takeOver(first: JsMsg): void {
    this.epoch++;
    this.opts.handler.forget();
    this.buffered.push(first);
    if (this.catchingUp) return; // the running catch-up sees the new epoch and reads again
    this.catchingUp = true;
    void this.catchUp().finally(() => {
      this.catchingUp = false;
      const buffered = this.buffered;
      this.buffered = [];
      if (!this.stopping) for (const m of buffered) this.take(m);
    });
  }

  private async catchUp(): Promise<void> {
    for (let attempt = 1; !this.stopping; attempt++) {
      const epoch = this.epoch;
      try {
        const info = await this.opts.jsm.consumers.info(ORDERS_STREAM, this.consumer);
        const from = Math.max(info.ack_floor.stream_seq, this.floor) + 1;
        const stored = await readPartitionRange(
          this.opts.jsm,
          partitionSubjectFilters(this.opts.service, this.opts.partition, this.opts.topology),
          from,
          info.delivered.stream_seq,
        );
        // What was delivered here under the new pin is taken as delivered (it may be first sight);
        // the rest of the range is what the previous owner left.
        const deliveredHere = new Set(this.buffered.map((m) => m.seq));
        let taken = 0;
        for (const m of stored) if (!deliveredHere.has(m.seq) && this.wants(m.subject) && this.takeStored(m)) taken++;
        if (taken > 0) {
          this.opts.log.info({ consumer: this.consumer, from, to: info.delivered.stream_seq, taken }, "took over events the previous owner left unacknowledged");
        }
        if (epoch === this.epoch) return;
      } catch (err) {
        this.opts.log.warn({ err, consumer: this.consumer, attempt }, "could not read what the previous owner left; trying again");
        await this.sleep(rebindDelayMs(attempt));
      }
    }
  }

  private wants(subject: string): boolean {
    const parsed = parseEventSubject(subject);
    return parsed !== null && parsed.partition === this.opts.partition && this.types.has(parsed.eventType);
  }

  private take(msg: JsMsg): void {
    const seq = msg.seq;
    if (seq <= this.floor) {
      // Done and under the floor: a redelivery the server sent before our acknowledgement reached it.
      msg.ack();
      return;
    }
    const known = this.entries.get(seq);
    if (known) {
      // Redelivered while being handled here (or taken over from the stream): acknowledge through
      // its latest delivery.
      known.msg = msg;
      return;
    }
    this.enqueue({
      seq,
      subject: msg.subject,
      data: msg.data,
      headers: msg.headers,
      msg,
      firstSight: msg.info.deliveryCount === 1 && seq > this.horizon,
      parsed: parseEventSubject(msg.subject),
      state: "queued",
    });
  }

  private takeStored(m: StoredMsg): boolean {
    if (this.stopping || m.seq <= this.floor || this.entries.has(m.seq)) return false;
    this.enqueue({
      seq: m.seq,
      subject: m.subject,
      data: m.data,
      headers: m.header,
      msg: undefined,
      firstSight: false,
      parsed: parseEventSubject(m.subject),
      state: "queued",
    });
    return true;
  }

  private enqueue(entry: Entry): void {
    this.entries.set(entry.seq, entry);
    // Almost always the highest so far; a stream read on taking over may fill a gap below.
    let i = this.window.length;
    while (i > 0 && this.window[i - 1]!.seq > entry.seq) i--;
    this.window.splice(i, 0, entry);
    const orderId = entry.parsed?.orderId ?? "";
    const queue = this.orders.get(orderId);
    if (queue) {
      queue.push(entry);
      return;
    }
    this.orders.set(orderId, [entry]);
    if (this.runningOrders < CONCURRENT_ORDERS) this.startOrder(orderId);
    else this.waitingOrders.push(orderId);
  }

  private startOrder(orderId: string): void {
    this.runningOrders++;
    void this.runOrder(orderId).finally(() => {
      this.runningOrders--;
      const next = this.waitingOrders.shift();
      if (next !== undefined) this.startOrder(next);
      else if (this.orders.size === 0) this.idle?.();
    });
  }

  /** Handles one order's entries one after the other. */
  private async runOrder(orderId: string): Promise<void> {
    const queue = this.orders.get(orderId)!;
    while (queue.length > 0) {
      const entry = queue[0]!;
      await this.handle(entry);
      if (entry.state === "abandoned") {
        // Stopping while it waited for another attempt: the rest of the order waits for the next owner.
        for (const rest of queue) rest.state = "abandoned";
        break;
      }
      queue.shift();
    }
    this.orders.delete(orderId);
  }

  private async handle(entry: Entry): Promise<void> {
    entry.state = "running";
    const parsedSubject = entry.parsed;
    const event = decodeEvent(entry, parsedSubject);
    if (typeof event === "string") {
      this.opts.log.error({ seq: entry.seq, consumer: this.consumer, orderId: parsedSubject?.orderId, reason: event }, "rejected a message that is not a valid order event");
      await this.giveUpOrKeep(entry, 1, event, "rejected");
      return;
    }
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(entry, event, parsedSubject, attempt);
      if (outcome === "ok") return this.done(entry);
      this.opts.handler.forget(event.orderId);
      if (attempt >= this.maxAttempts) {
        await this.giveUpOrKeep(entry, attempt, outcome.reason, "dead_lettered", event.eventType);
        return;
      }
      this.opts.onHandled?.({ eventType: event.eventType, outcome: "retried" });
      if (!(await this.sleep(this.opts.retryDelayMs(attempt)))) {
        entry.state = "abandoned";
        return;
      }
      // Keeps the server from handing it out again while it is being retried here.
      entry.msg?.working();
    }
  }

  /** One attempt: the handler under a CONSUMER span; "ok" or why it failed. */
  private async attempt(
    entry: Entry,
    event: Exclude<ReturnType<typeof decodeEvent>, string>,
    parsedSubject: EventSubject | null,
    attempt: number,
  ): Promise<"ok" | { reason: string }> {
    const { span, context } = startConsumerSpan({
      subject: entry.subject,
      seq: entry.seq,
      consumer: this.consumer,
      deliveryCount: attempt,
      bodySize: entry.data.byteLength,
      headers: entry.headers,
      parsedSubject,
    });
    span.setAttribute(MessagingAttr.messageId, event.eventId);
    const delivery: Delivery = {
      seq: entry.seq,
      subject: entry.subject,
      consumer: this.consumer,
      attempt,
      traceparent: entry.headers?.get("traceparent") || null,
      trace: context,
      firstSight: entry.firstSight && attempt === 1,
    };
    const started = performance.now();
    try {
      await this.opts.handler.handle(event, delivery);
      const handlerSeconds = (performance.now() - started) / 1000;
      this.opts.onHandled?.({ eventType: event.eventType, outcome: "ok", handlerSeconds });
      // One info line per event a service handles: with the order's POST line (services/order/http.ts),
      // an order's lines in the log store show its path through every service, each tied to its span.
      if (this.logHandled) {
        this.opts.log.info(
          {
            orderId: event.orderId,
            eventType: event.eventType,
            seq: entry.seq,
            consumer: this.consumer,
            attempt,
            durationMs: Math.round(handlerSeconds * 1e5) / 100,
            ...traceFields(span),
          },
          `handled ${event.eventType}`,
        );
      }
      return "ok";
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      const last = attempt >= this.maxAttempts;
      this.opts.log[last ? "error" : "warn"](
        { err, seq: entry.seq, consumer: this.consumer, orderId: event.orderId, eventType: event.eventType, attempt, ...traceFields(span) },
        last ? "handler failed on the last attempt; giving the event up" : "handler failed; the event will be tried again",
      );
      return { reason: `handler failed ${attempt} times: ${(err as Error).message}` };
    } finally {
      span.end();
    }
  }

  /** Dead-letters the entry; if even that fails, keeps trying (an event is never dropped unrecorded). */
  private async giveUpOrKeep(entry: Entry, attempts: number, reason: string, outcome: HandleOutcome, eventType = "invalid"): Promise<void> {
    for (let tries = 1; ; tries++) {
      try {
        await this.opts.giveUp?.({
          subject: entry.subject,
          seq: entry.seq,
          data: entry.data,
          headers: entry.headers,
          consumer: this.consumer,
          attempts,
          reason,
        });
        this.opts.onHandled?.({ eventType, outcome });
        return this.done(entry);
      } catch (err) {
        this.opts.log.error({ err, seq: entry.seq, consumer: this.consumer }, "could not write the dead letter; trying again");
        if (!(await this.sleep(rebindDelayMs(tries)))) {
          entry.state = "abandoned";
          return;
        }
      }
    }
  }

  private done(entry: Entry): void {
    entry.state = "done";
    while (this.window.length > 0 && this.window[0]!.state === "done") {
      const e = this.window.shift()!;
      this.entries.delete(e.seq);
      this.floor = e.seq;
      if (e.msg) this.ackable = e.msg;
    }
    if (this.ackable && !this.ackScheduled) {
      this.ackScheduled = true;
      // After the handlers that finish in the same turn (PubAcks read off the socket together): one ack for them all.
      queueMicrotask(() => this.flushAck());
    }
  }

  /** One cumulative ack for everything done up to the floor. */
  private flushAck(): void {
    this.ackScheduled = false;
    const msg = this.ackable;
    this.ackable = undefined;
    msg?.ack();
  }

  /** Waits `ms`; false when stopping cut it short. */
  private sleep(ms: number): Promise<boolean> {
    if (this.stopping) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleeping.delete(wake);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.sleeping.delete(wake);
        resolve(true);
      }, ms);
      this.sleeping.add(wake);
    });
  }

  /** Resolves once no order has an event running or queued (abandoned ones aside). */
  private settled(): Promise<void> {
    if (this.orders.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idle = () => {
        this.idle = undefined;
        resolve();
      };
    });
  }

  /** Releases the pin if it is still this worker's, so the next puller is pinned at once. */
  private async releasePin(): Promise<void> {
    const info = (await this.opts.jsm.consumers.info(ORDERS_STREAM, this.consumer)) as ConsumerInfo & {
      // In the server's answer since 2.11; not yet in nats.js 3.4's type.
      priority_groups?: { group: string; pinned_client_id?: string }[];
    };
    const group = info.priority_groups?.find((g) => g.group === OWNER_GROUP);
    if (group?.pinned_client_id === this.pin) await this.opts.jsm.consumers.unpin(ORDERS_STREAM, this.consumer, OWNER_GROUP);
  }
}
