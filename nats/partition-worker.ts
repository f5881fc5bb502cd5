/**
 * One lane of one service (its consumer of the partitions p with p mod LANES = lane, nats/subjects.ts),
 * on the instance that owns it. The lane's consumer is pinned to one puller (priority group
 * `pinned_client`), so while this instance holds the pin every event of the lane's orders that the
 * service acts on comes here, in stream order. Here:
 *
 * - Events of different orders are handled concurrently (publishes and acknowledgements pipelined);
 *   one order's events run one after the other, in stream order. A failing event is retried here
 *   (growing pauses, MAX_DELIVER attempts, then a dead letter) and holds back only its own order.
 * - Acknowledgement is cumulative (ack policy "all"): once every event up to a sequence is done, one
 *   ack of the highest of them settles them all, at most one ack per lane per event-loop turn.
 * - Taking over: the first message under a new pin id means the lane changed hands (or was
 *   pinned again after a gap). Whatever the server delivered to the previous owner and nobody
 *   acknowledged (above the consumer's ack floor, up to its last delivered sequence) is read from the
 *   stream and handled first, before anything delivered here — the server would hand it out again
 *   only after ack_wait, and later events of the same orders must not overtake it. Handlers are
 *   idempotent, so an event the previous owner had in fact finished is harmless to redo.
 * - Crash loops: what a new owner takes over from the previous one is suspect (the previous owner
 *   may have died of one of them). Suspects are handled first, one at a time with nothing else
 *   running, each recorded durably before its handler runs (nats/crash-suspects.ts); a record found
 *   on taking over means an owner died handling that message alone. After `crashLimit` deaths it is
 *   dead-lettered ("crashed the consumer N times") and the lane moves on; the innocent ones,
 *   handled in isolation, finish and are never blamed. First deliveries cost nothing extra.
 * - Stopping (shutdown or hand-over): nothing new is taken, what was taken finishes (an event waiting
 *   for its next attempt is left to the next owner), the floor is acknowledged, and the pin is
 *   released so the next owner is pinned at once.
 *
 * Here: binding, pulling, taking over. Which event runs when: nats/partition/order-scheduler.ts; what
 * to ack: partition/ack-window.ts; one event's retries, dead letter, crash count: partition/event-runner.ts.
 */
import type { Consumer, ConsumerInfo, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg, StoredMsg } from "@nats-io/jetstream";
import { errors } from "@nats-io/transport-node";
import type { Topology } from "../shared/config.ts";
import { headerValue } from "../otel/nats-headers.ts";
import { MAX_DELIVER, OWNER_TTL_MS } from "./definitions.ts";
import { rebindDelayMs, stopWhenDeleted } from "./durable-loop.ts";
import { readPartitionRange } from "./order-history.ts";
import { AckWindow } from "./partition/ack-window.ts";
import { EventRunner, type Entry, type HandlingOptions } from "./partition/event-runner.ts";
import { OrderScheduler } from "./partition/order-scheduler.ts";
import { Pauses } from "./partition/pauses.ts";
import {
  CONSUMED_EVENT_TYPES,
  consumerName,
  Header,
  ORDERS_STREAM,
  OWNER_GROUP,
  parseEventSubject,
  laneOf,
  laneSubjectFilters,
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

export interface PartitionWorkerOptions extends HandlingOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  service: ServiceName;
  maxAttempts?: number;
  /** Which subject forms the lane's consumer holds (nats/subjects.ts); default single-site. */
  topology?: Topology;
  /** The service's lane count (default nats/subjects.ts LANES). */
  lanes?: number;
}

/** What a consumer reports for the JetStream gauges, as this worker sees it. */
export interface WorkerStats {
  consumer: string;
  /** Events taken and not yet acknowledged (handling, waiting behind their order, or done above the floor). */
  unacked: number;
}

export class PartitionWorker {
  readonly consumer: string;
  private readonly types: ReadonlySet<string>;
  private readonly runner: EventRunner;
  /** What is taken and not yet acknowledged; the floor to acknowledge. */
  private readonly window = new AckWindow<JsMsg, Entry>();
  /** Which taken event may run now: per order in turn, CONCURRENT_ORDERS orders at once, suspects alone. */
  private readonly orders = new OrderScheduler<Entry>(CONCURRENT_ORDERS);
  /** The current pull, stopped by stop() (undefined between binds). */
  private messages: ConsumerMessages | undefined;
  /** The pull loop started by start(): stop() waits for it to end. */
  private loop: Promise<void> | undefined;
  /** Set once by stop(): nothing new is taken, sleeps end, suspects stop running alone. */
  private stopping = false;
  /** `created` of the consumer bound last: a new one (a replay recreated it) numbers from scratch. */
  private consumerCreated = "";
  /**
   * Stream's last sequence when the consumer was bound: a first delivery above it is a first sight
   * (nothing can have handled it); at or below, a previous owner may have.
   */
  private horizon = Number.MAX_SAFE_INTEGER;
  /** The pin id of the deliveries taken last: a delivery under another one means a takeover. */
  private pin = "";
  /** Counts takeovers: a catch-up that sees it change while it read knows to read again. */
  private epoch = 0;
  /** A catch-up is running: deliveries wait in `buffered`, so none overtakes what it reads. */
  private catchingUp = false;
  /** Deliveries held back while catching up, taken once it is done (or earlier, in stream order with it). */
  private buffered: JsMsg[] = [];
  /** One ack per event-loop turn: set while its microtask is queued. */
  private ackScheduled = false;
  private readonly flushAckSoon = () => this.flushAck();
  /** The pauses (retry, dead-letter write, catch-up), cut short by stop(). */
  private readonly pauses = new Pauses();
  /** Set by settled(): resolves stop()'s wait once no order has anything running or waiting. */
  private idle: (() => void) | undefined;
  /** Sequences a new owner took over from the previous one (the last catch-up's): entries in it are suspects. */
  private suspectRange = { from: 1, to: 0 };

  constructor(private readonly opts: PartitionWorkerOptions) {
    this.consumer = consumerName(opts.service, opts.lane);
    this.types = new Set(CONSUMED_EVENT_TYPES[opts.service]);
    this.runner = new EventRunner({
      ...opts,
      consumer: this.consumer,
      maxAttempts: opts.maxAttempts ?? MAX_DELIVER,
      sleep: (ms) => this.pauses.sleep(ms),
      done: (entry) => this.done(entry),
      stopping: () => this.stopping,
    });
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
    this.pauses.stop();
    this.orders.stopIsolating();
    this.pump();
    await this.settled();
    this.flushAck();
    await this.loop;
    if (handOver && this.pin) await this.releasePin().catch(() => {});
  }

  stats(): WorkerStats {
    return { consumer: this.consumer, unacked: this.window.size };
  }

  private async bind(): Promise<Consumer> {
    const consumer = await this.opts.js.consumers.get(ORDERS_STREAM, this.consumer);
    const info = await consumer.info(true);
    if (info.created !== this.consumerCreated) {
      // A new consumer (first bind, or recreated by a replay): its sequences start over here too.
      this.consumerCreated = info.created;
      this.window.reset();
      this.pin = "";
    }
    this.horizon = (await this.opts.jsm.streams.info(ORDERS_STREAM)).state.last_seq;
    return consumer;
  }

  private delivered(msg: JsMsg): void {
    if (this.stopping) return; // not taken, not acknowledged: the next owner takes it over
    const pin = headerValue(msg.headers, Header.pinId);
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
        const from = Math.max(info.ack_floor.stream_seq, this.window.floor) + 1;
        const to = info.delivered.stream_seq;
        if (this.opts.suspects) {
          this.suspectRange = { from, to };
          // Taken here before and still waiting: suspects too (they may be what killed the previous owner).
          for (const e of this.window.entries()) if (e.state === "queued" && e.seq <= to) this.orders.markSuspect(e.order, e);
          this.pump();
        }
        const stored = await readPartitionRange(
          this.opts.jsm,
          laneSubjectFilters(this.opts.service, this.opts.lane, this.opts.topology, this.opts.lanes),
          from,
          to,
        );
        // What was delivered here under the new pin is taken as delivered (it may be first sight), the
        // rest of the range is what the previous owner left: all of it in stream order, so that no
        // redelivery of an order's event lands behind a later event of the same order read here.
        const deliveredHere = new Map(this.buffered.map((m) => [m.seq, m]));
        let taken = 0;
        for (const m of stored) {
          const here = deliveredHere.get(m.seq);
          if (here === undefined) {
            if (this.takeStored(m)) taken++;
          } else {
            deliveredHere.delete(m.seq);
            this.take(here);
          }
        }
        this.buffered = this.buffered.filter((m) => deliveredHere.has(m.seq));
        if (taken > 0)
          this.opts.log.info({ consumer: this.consumer, from, to, taken }, "took over events the previous owner left unacknowledged");
        if (epoch === this.epoch) return;
      } catch (err) {
        this.opts.log.warn({ err, consumer: this.consumer, attempt }, "could not read what the previous owner left; trying again");
        await this.pauses.sleep(rebindDelayMs(attempt));
      }
    }
  }

  private take(msg: JsMsg): void {
    switch (this.window.redelivered(msg.seq, msg)) {
      case "under-floor":
        // Done and under the floor: a redelivery the server sent before our acknowledgement reached it.
        msg.ack();
        return;
      case "taken":
        // Redelivered while being handled here (or taken over from the stream): acknowledged through it.
        return;
      case "new":
        this.enqueue(msg.seq, msg.subject, msg.data, msg.headers, msg, msg.info.deliveryCount === 1 && msg.seq > this.horizon);
    }
  }

  /** Takes an event the previous owner left (read from the stream), unless taken, done, or not this consumer's. */
  private takeStored(m: StoredMsg): boolean {
    const parsed = parseEventSubject(m.subject);
    if (!parsed || laneOf(parsed.partition, this.opts.lanes) !== this.opts.lane || !this.types.has(parsed.eventType)) return false;
    if (this.stopping || m.seq <= this.window.floor || this.window.get(m.seq) !== undefined) return false;
    this.enqueue(m.seq, m.subject, m.data, m.header, undefined, false);
    return true;
  }

  private enqueue(
    seq: number,
    subject: string,
    data: Uint8Array,
    headers: Entry["headers"],
    msg: JsMsg | undefined,
    firstSight: boolean,
  ): void {
    const parsed = parseEventSubject(subject);
    const entry: Entry = {
      seq,
      subject,
      data,
      headers,
      msg,
      done: false,
      order: parsed?.orderId ?? "",
      firstSight,
      parsed,
      state: "queued",
      // Read from the stream on taking over, or delivered before (to an owner that may have died of
      // it); a first delivery here is no suspect, though the range of a fresh owner includes it.
      suspect: seq >= this.suspectRange.from && seq <= this.suspectRange.to && (msg === undefined || msg.info.deliveryCount > 1),
    };
    this.window.add(entry);
    this.orders.add(entry.order, entry);
    this.pump();
  }

  /** Starts every event the scheduler lets start. */
  private pump(): void {
    for (let e = this.orders.next(); e !== undefined; e = this.orders.next()) void this.runOrder(e);
  }

  /** Runs one order's events for as long as the scheduler lets it go straight on. */
  private async runOrder(first: Entry): Promise<void> {
    const order = first.order;
    for (let entry: Entry | undefined = first; entry !== undefined; ) {
      await this.runner.run(entry);
      if (entry.state === "abandoned") {
        // Stopping while it waited for another attempt: the rest of the order waits for the next owner.
        for (const rest of this.orders.abandon(order)) rest.state = "abandoned";
        entry = undefined;
      } else entry = this.orders.finished(order);
      this.pump();
    }
    if (this.orders.idle) this.idle?.();
  }

  private done(entry: Entry): void {
    if (this.window.complete(entry) && !this.ackScheduled) {
      this.ackScheduled = true;
      // After the handlers that finish in the same turn (PubAcks read off the socket together): one ack for them all.
      queueMicrotask(this.flushAckSoon);
    }
  }

  /** One cumulative ack for everything done up to the floor. */
  private flushAck(): void {
    this.ackScheduled = false;
    this.window.takeAck()?.ack();
  }

  /** Resolves once no order has an event running or queued (abandoned ones aside). */
  private settled(): Promise<void> {
    if (this.orders.idle) return Promise.resolve();
    return new Promise((resolve) => {
      this.idle = () => {
        this.idle = undefined;
        resolve();
      };
    });
  }

  /** Releases the pin if it is still this worker's, so the next puller is pinned at once. */
  private async releasePin(): Promise<void> {
    // priority_groups: in the server's answer since 2.11, not yet in nats.js 3.4's type.
    const info = (await this.opts.jsm.consumers.info(ORDERS_STREAM, this.consumer)) as ConsumerInfo & {
      priority_groups?: { group: string; pinned_client_id?: string }[];
    };
    if (info.priority_groups?.find((g) => g.group === OWNER_GROUP)?.pinned_client_id === this.pin)
      await this.opts.jsm.consumers.unpin(ORDERS_STREAM, this.consumer, OWNER_GROUP);
  }
}
