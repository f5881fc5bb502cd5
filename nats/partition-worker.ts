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
 * - Crash loops: what a new owner takes over from the previous one is suspect (the previous owner
 *   may have died of one of them). Suspects are handled first, one at a time with nothing else
 *   running, each recorded durably before its handler runs (nats/crash-suspects.ts); a record found
 *   on taking over means an owner died handling that message alone. After `crashLimit` deaths it is
 *   dead-lettered ("crashed the consumer N times") and the partition moves on; the innocent ones,
 *   handled in isolation, finish and are never blamed. First deliveries cost nothing extra.
 * - Stopping (shutdown or hand-over): nothing new is taken, what was taken finishes (an event waiting
 *   for its next attempt is left to the next owner), the floor is acknowledged, and the pin is
 *   released so the next owner is pinned at once.
 */
import type { Consumer, ConsumerInfo, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg, StoredMsg } from "@nats-io/jetstream";
import { errors, type MsgHdrs } from "@nats-io/transport-node";
import { recordSpanError } from "../otel/span-error.ts";
import { traceFields, type Logger } from "../shared/logger.ts";
import { MessagingAttr } from "../otel/messaging-attributes.ts";
import { startConsumerSpan } from "./consumer-span.ts";
import { headerValue } from "../otel/nats-headers.ts";
import { MAX_DELIVER, OWNER_TTL_MS } from "./definitions.ts";
import { decodeEvent, type Delivery, type GiveUp, type HandledReport, type HandleOutcome, type PartitionHandler } from "./delivery.ts";
import { rebindDelayMs, stopWhenDeleted } from "./durable-loop.ts";
import { storeRefusal } from "../shared/store-refusal.ts";
import type { CrashSuspects } from "./crash-suspects.ts";
import { readPartitionRange } from "./order-history.ts";
import type { Topology } from "../shared/config.ts";
import {
  CONSUMED_EVENT_TYPES,
  consumerName,
  ORDERS_STREAM,
  OWNER_GROUP,
  parseEventSubject,
  laneOf,
  laneSubjectFilters,
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
  /** Where deaths while handling a suspect are counted; without it, suspects are not isolated. */
  suspects?: CrashSuspects;
  /** Process deaths while handling one message before it is dead-lettered (default 3). */
  crashLimit?: number;
  /** Which subject forms the partition's consumer holds (nats/subjects.ts); default single-site. */
  topology?: Topology;
}

/** Default of CRASH_LIMIT. */
export const DEFAULT_CRASH_LIMIT = 3;

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
  /** Left unacknowledged by a previous owner (which may have died of it): handled in isolation. */
  suspect: boolean;
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
  /** Sequences a new owner took over from the previous one: entries in it are suspects. */
  private suspectRange = { from: 1, to: 0 };
  /** Suspect entries not yet handled: while any, nothing else starts. */
  private pendingSuspects = 0;
  /** Handlers of non-suspect entries running now (a suspect waits for them to finish). */
  private runningOthers = 0;
  /** Suspects run one after the other: each waits for the one before. */
  private suspectTurn: Promise<void> = Promise.resolve();
  /** Woken when pendingSuspects or runningOthers drops to 0, or on stop. */
  private readonly gateWaiters = new Set<() => void>();

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
    this.openGate();
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
    const pin = headerValue(msg.headers, "Nats-Pin-Id");
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
        if (this.opts.suspects) {
          this.suspectRange = { from, to: info.delivered.stream_seq };
          // Taken here before and still waiting: suspects too, or one waiting at the gate would
          // hold back a suspect of the same order behind it.
          for (const e of this.window) if (e.state === "queued" && e.seq <= info.delivered.stream_seq) this.markSuspect(e);
        }
        const stored = await readPartitionRange(
          this.opts.jsm,
          laneSubjectFilters(this.opts.service, this.opts.partition, this.opts.topology),
          from,
          info.delivered.stream_seq,
        );
        // What was delivered here under the new pin is taken as delivered (it may be first sight);
        // the rest of the range is what the previous owner left.
        const deliveredHere = new Set(this.buffered.map((m) => m.seq));
        let taken = 0;
        for (const m of stored) if (!deliveredHere.has(m.seq) && this.wants(m.subject) && this.takeStored(m)) taken++;
        if (taken > 0) {
          this.opts.log.info(
            { consumer: this.consumer, from, to: info.delivered.stream_seq, taken },
            "took over events the previous owner left unacknowledged",
          );
        }
        if (epoch === this.epoch) return;
      } catch (err) {
        this.opts.log.warn({ err, consumer: this.consumer, attempt }, "could not read what the previous owner left; trying again");
        await this.sleep(rebindDelayMs(attempt));
      }
    }
  }

  private inSuspectRange(seq: number): boolean {
    return seq >= this.suspectRange.from && seq <= this.suspectRange.to;
  }

  private markSuspect(entry: Entry): void {
    if (entry.suspect) return;
    entry.suspect = true;
    this.pendingSuspects++;
    // One already waiting at the gate as an ordinary entry must now go the suspects' way.
    this.openGate();
  }

  private wants(subject: string): boolean {
    const parsed = parseEventSubject(subject);
    return parsed !== null && laneOf(parsed.partition) === this.opts.partition && this.types.has(parsed.eventType);
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
      suspect: false,
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
      suspect: false,
    });
    return true;
  }

  private enqueue(entry: Entry): void {
    // Read from the stream on taking over, or delivered before (to an owner that may have died of
    // it); a first delivery here is no suspect, though the range of a fresh owner includes it.
    if (this.inSuspectRange(entry.seq) && (entry.msg === undefined || entry.msg.info.deliveryCount > 1)) this.markSuspect(entry);
    this.entries.set(entry.seq, entry);
    // Almost always the highest so far; a stream read on taking over may fill a gap below.
    let i = this.window.length;
    while (i > 0 && this.window[i - 1]!.seq > entry.seq) i--;
    // push, not splice, in the usual case: splice makes an (empty) array of what it removed.
    if (i === this.window.length) this.window.push(entry);
    else this.window.splice(i, 0, entry);
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

  private handle(entry: Entry): Promise<void> {
    if (entry.suspect) return this.handleSuspect(entry);
    // While suspects wait, nothing else starts: a suspect runs alone, so a death is its own.
    if (this.pendingSuspects > 0 && !this.stopping) return this.handleAfterSuspects(entry);
    // The usual case, without an async frame of its own (one per event: allocation, bench/allocations.ts).
    return this.handleNow(entry, true);
  }

  private async handleAfterSuspects(entry: Entry): Promise<void> {
    while (this.pendingSuspects > 0 && !this.stopping) {
      await this.gate();
      if (entry.suspect) return this.handleSuspect(entry);
    }
    return this.handleNow(entry, true);
  }

  /** A suspect, alone: dead-lettered if owners died handling it crashLimit times, else handled. */
  private async handleSuspect(entry: Entry): Promise<void> {
    const turn = this.suspectTurn;
    let next!: () => void;
    this.suspectTurn = new Promise((r) => (next = r));
    await turn;
    try {
      while (this.runningOthers > 0 && !this.stopping) await this.gate();
      const suspects = this.opts.suspects!;
      const { partition } = this.opts;
      const limit = this.opts.crashLimit ?? DEFAULT_CRASH_LIMIT;
      const event = decodeEvent(entry, entry.parsed);
      if (this.stopping || typeof event === "string") return await this.handleNow(entry);
      const starts = await suspects.starts(partition, entry.seq).catch((err: unknown) => {
        this.opts.log.warn(
          { err, seq: entry.seq, consumer: this.consumer },
          "could not read the crash count of a suspect; handling it as never crashed",
        );
        return 0;
      });
      // The death that left it unacknowledged, and each isolated start that never finished.
      const deaths = starts + 1;
      if (deaths >= limit) {
        entry.state = "running";
        this.opts.log.error(
          { seq: entry.seq, consumer: this.consumer, orderId: event.orderId, eventType: event.eventType, deaths },
          "the event crashed its consumer; dead-lettering it",
        );
        await this.giveUpOrKeep(entry, deaths, `crashed the consumer ${deaths} times`, "dead_lettered", event.eventType);
      } else {
        await suspects.started(partition, entry.seq, starts + 1).catch((err: unknown) => {
          this.opts.log.warn(
            { err, seq: entry.seq, consumer: this.consumer },
            "could not record a suspect's start; a crash now goes uncounted",
          );
        });
        await this.handleNow(entry);
        if (entry.state === "done")
          this.opts.log.info(
            { seq: entry.seq, consumer: this.consumer, orderId: event.orderId, eventType: event.eventType, deaths },
            "handled a suspect in isolation",
          );
        // Abandoned (stopping while it waited for another attempt): no death, the start is taken back.
        if (entry.state === "abandoned" && starts > 0) await suspects.started(partition, entry.seq, starts).catch(() => {});
      }
      if (entry.state === "done" || (entry.state === "abandoned" && starts === 0))
        await suspects.finished(partition, entry.seq).catch(() => {});
    } finally {
      if (--this.pendingSuspects === 0) this.openGate();
      next();
    }
  }

  /** Waits until the gate opens (suspects done, others done, or stopping). */
  private gate(): Promise<void> {
    return new Promise((resolve) => this.gateWaiters.add(resolve));
  }

  private openGate(): void {
    const waiters = [...this.gateWaiters];
    this.gateWaiters.clear();
    for (const wake of waiters) wake();
  }

  /** Handles the entry; `counted`: as one of the non-suspects a suspect waits for (runningOthers). */
  private async handleNow(entry: Entry, counted = false): Promise<void> {
    if (counted) this.runningOthers++;
    try {
      entry.state = "running";
      const parsedSubject = entry.parsed;
      const event = decodeEvent(entry, parsedSubject);
      if (typeof event === "string") {
        this.opts.log.error(
          { seq: entry.seq, consumer: this.consumer, orderId: parsedSubject?.orderId, reason: event },
          "rejected a message that is not a valid order event",
        );
        await this.giveUpOrKeep(entry, 1, event, "rejected");
        return;
      }
      for (let attempt = 1; ; attempt++) {
        const outcome = await this.attempt(entry, event, parsedSubject, attempt);
        if (outcome === "ok") return this.done(entry);
        this.opts.handler.forget(event.orderId);
        // A full store is the server's condition, not the event's fault: it waits for room (at the
        // longest pause) instead of using up its attempts and landing in the dead letters.
        if (outcome.storeFull) attempt = Math.min(attempt, this.maxAttempts - 1);
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
    } finally {
      if (counted && --this.runningOthers === 0) this.openGate();
    }
  }

  /** One attempt: the handler under a CONSUMER span; "ok" or why it failed. */
  private async attempt(
    entry: Entry,
    event: Exclude<ReturnType<typeof decodeEvent>, string>,
    parsedSubject: EventSubject | null,
    attempt: number,
  ): Promise<"ok" | { reason: string; storeFull?: boolean }> {
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
      traceparent: headerValue(entry.headers, "traceparent") || null,
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
      recordSpanError(span, err);
      const storeFull = storeRefusal(err) !== null;
      const last = attempt >= this.maxAttempts && !storeFull;
      this.opts.log[last ? "error" : "warn"](
        { err, seq: entry.seq, consumer: this.consumer, orderId: event.orderId, eventType: event.eventType, attempt, ...traceFields(span) },
        last ? "handler failed on the last attempt; giving the event up" : "handler failed; the event will be tried again",
      );
      return { reason: `handler failed ${attempt} times: ${(err as Error).message}`, storeFull };
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
