/**
 * Running one taken event of a partition (nats/partition-worker.ts decides when): the service's
 * handler under a CONSUMER span, retried with growing pauses and dead-lettered after `maxAttempts`;
 * and a suspect's way (nats/crash-suspects.ts): its crash count read, dead-lettered when owners died
 * of it `crashLimit` times, else its start recorded before the handler runs.
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { MsgHdrs } from "@nats-io/transport-node";
import { recordSpanError } from "../../otel/span-error.ts";
import { MessagingAttr } from "../../otel/messaging-attributes.ts";
import { traceFields, type Logger } from "../../shared/logger.ts";
import { storeRefusal } from "../../shared/store-refusal.ts";
import { startConsumerSpan } from "../consumer-span.ts";
import type { CrashSuspects } from "../crash-suspects.ts";
import { decodeEvent, type Delivery, type GiveUp, type HandledReport, type HandleOutcome, type PartitionHandler } from "../delivery.ts";
import { rebindDelayMs } from "../durable-loop.ts";
import { Header, type EventSubject } from "../subjects.ts";
import { headerValue } from "../../otel/nats-headers.ts";
import type { Windowed } from "./ack-window.ts";
import type { Schedulable } from "./order-scheduler.ts";

/** Default of CRASH_LIMIT. */
export const DEFAULT_CRASH_LIMIT = 3;

/** One event taken for handling: delivered here, or read from the stream on taking over. */
export interface Entry extends Windowed<JsMsg>, Schedulable {
  seq: number;
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs | undefined;
  /** The order it belongs to ("" when the subject is not an event's: it is then rejected). */
  order: string;
  /** Nothing can have handled it before (see Delivery.firstSight). */
  firstSight: boolean;
  /** The subject's tokens (null: not an event subject). */
  parsed: EventSubject | null;
  /** "abandoned": stopping while it waited for another attempt; the next owner takes it over. */
  state: "queued" | "running" | "abandoned";
}

/** How a lane's events are handled: given to the partition worker, which hands it on to its runner. */
export interface HandlingOptions {
  /** The lane (lane k: the partitions p with p mod LANES = k, nats/subjects.ts); crash suspects are counted per lane. */
  lane: number;
  handler: PartitionHandler;
  log: Logger;
  /** Writes the dead letter of an event given up (invalid, or out of attempts). */
  giveUp?: GiveUp;
  /** Pause before the next attempt at a failed event, by attempts made. */
  retryDelayMs(attempt: number): number;
  /** Told how each event ended (the metrics hook; keeps this layer free of a metrics library). */
  onHandled?(report: HandledReport): void;
  /** Where deaths while handling a suspect are counted; without it, suspects are not isolated. */
  suspects?: CrashSuspects;
  /** Process deaths while handling one message before it is dead-lettered (default 3). */
  crashLimit?: number;
}

export interface EventRunnerOptions extends HandlingOptions {
  consumer: string;
  maxAttempts: number;
  /** Waits `ms`; false when stopping cut it short. */
  sleep(ms: number): Promise<boolean>;
  /** The entry is done (handled or dead-lettered): the worker's ack window takes it. */
  done(entry: Entry): void;
  /** Stopping: a suspect then runs as an ordinary event, its count untouched. */
  stopping(): boolean;
}

type Decoded = Exclude<ReturnType<typeof decodeEvent>, string>;

export class EventRunner {
  /** Whether the "handled" line is logged (LOG_LEVEL info or below): its fields are not even built otherwise. */
  private readonly logHandled: boolean;

  constructor(private readonly o: EventRunnerOptions) {
    this.logHandled = o.log.isLevelEnabled("info");
  }

  /** Runs the entry to its end: done, dead-lettered, or abandoned (stopping). */
  run(entry: Entry): Promise<void> {
    return entry.suspect && this.o.suspects && !this.o.stopping() ? this.runSuspect(entry, this.o.suspects) : this.runNow(entry);
  }

  /** A suspect, alone (the scheduler sees to it): dead-lettered if owners died handling it crashLimit times, else handled. */
  private async runSuspect(entry: Entry, suspects: CrashSuspects): Promise<void> {
    const { lane, consumer, log } = this.o;
    const event = decodeEvent(entry, entry.parsed);
    if (typeof event === "string") return this.runNow(entry);
    const starts = await suspects.starts(lane, entry.seq).catch((err: unknown) => {
      log.warn({ err, seq: entry.seq, consumer }, "could not read the crash count of a suspect; handling it as never crashed");
      return 0;
    });
    // The death that left it unacknowledged, and each isolated start that never finished.
    const deaths = starts + 1;
    const limit = this.o.crashLimit ?? DEFAULT_CRASH_LIMIT;
    const fields = { seq: entry.seq, consumer, orderId: event.orderId, eventType: event.eventType, deaths };
    if (deaths >= limit) {
      entry.state = "running";
      log.error(fields, "the event crashed its consumer; dead-lettering it");
      await this.giveUpOrKeep(entry, deaths, `crashed the consumer ${deaths} times`, "dead_lettered", event.eventType);
    } else {
      await suspects.started(lane, entry.seq, starts + 1).catch((err: unknown) => {
        log.warn({ err, seq: entry.seq, consumer }, "could not record a suspect's start; a crash now goes uncounted");
      });
      await this.runNow(entry);
      if (entry.done) log.info(fields, "handled a suspect in isolation");
      // Abandoned (stopping while it waited for another attempt): no death, the start is taken back.
      if (entry.state === "abandoned" && starts > 0) await suspects.started(lane, entry.seq, starts).catch(() => {});
    }
    if (entry.done || (entry.state === "abandoned" && starts === 0)) await suspects.finished(lane, entry.seq).catch(() => {});
  }

  private async runNow(entry: Entry): Promise<void> {
    entry.state = "running";
    const parsedSubject = entry.parsed;
    const event = decodeEvent(entry, parsedSubject);
    if (typeof event === "string") {
      this.o.log.error(
        { seq: entry.seq, consumer: this.o.consumer, orderId: parsedSubject?.orderId, reason: event },
        "rejected a message that is not a valid order event",
      );
      await this.giveUpOrKeep(entry, 1, event, "rejected");
      return;
    }
    const { maxAttempts } = this.o;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(entry, event, parsedSubject, attempt);
      if (outcome === "ok") return this.o.done(entry);
      this.o.handler.forget(event.orderId);
      // A full store is the server's condition, not the event's fault: it waits for room (at the
      // longest pause) instead of using up its attempts and landing in the dead letters.
      if (outcome.storeFull) attempt = Math.min(attempt, maxAttempts - 1);
      if (attempt >= maxAttempts) {
        await this.giveUpOrKeep(entry, attempt, outcome.reason, "dead_lettered", event.eventType);
        return;
      }
      this.o.onHandled?.({ eventType: event.eventType, outcome: "retried" });
      if (!(await this.o.sleep(this.o.retryDelayMs(attempt)))) {
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
    event: Decoded,
    parsedSubject: EventSubject | null,
    attempt: number,
  ): Promise<"ok" | { reason: string; storeFull?: boolean }> {
    const { consumer } = this.o;
    const { span, context } = startConsumerSpan({
      subject: entry.subject,
      seq: entry.seq,
      consumer,
      deliveryCount: attempt,
      bodySize: entry.data.byteLength,
      headers: entry.headers,
      parsedSubject,
    });
    span.setAttribute(MessagingAttr.messageId, event.eventId);
    const delivery: Delivery = {
      seq: entry.seq,
      subject: entry.subject,
      consumer,
      attempt,
      traceparent: headerValue(entry.headers, Header.traceparent) || null,
      trace: context,
      firstSight: entry.firstSight && attempt === 1,
    };
    const started = performance.now();
    try {
      await this.o.handler.handle(event, delivery);
      const handlerSeconds = (performance.now() - started) / 1000;
      this.o.onHandled?.({ eventType: event.eventType, outcome: "ok", handlerSeconds });
      // One info line per event a service handles: with the order's POST line (services/order/http.ts),
      // an order's lines in the log store show its path through every service, each tied to its span.
      if (this.logHandled) {
        this.o.log.info(
          {
            orderId: event.orderId,
            eventType: event.eventType,
            seq: entry.seq,
            consumer,
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
      const last = attempt >= this.o.maxAttempts && !storeFull;
      this.o.log[last ? "error" : "warn"](
        { err, seq: entry.seq, consumer, orderId: event.orderId, eventType: event.eventType, attempt, ...traceFields(span) },
        last ? "handler failed on the last attempt; giving the event up" : "handler failed; the event will be tried again",
      );
      return { reason: `handler failed ${attempt} times: ${(err as Error).message}`, storeFull };
    } finally {
      span.end();
    }
  }

  /** Dead-letters the entry; if even that fails, keeps trying (an event is never dropped unrecorded). */
  private async giveUpOrKeep(entry: Entry, attempts: number, reason: string, outcome: HandleOutcome, eventType = "invalid"): Promise<void> {
    const { consumer } = this.o;
    for (let tries = 1; ; tries++) {
      try {
        await this.o.giveUp?.({
          subject: entry.subject,
          seq: entry.seq,
          data: entry.data,
          headers: entry.headers,
          consumer,
          attempts,
          reason,
        });
        this.o.onHandled?.({ eventType, outcome });
        return this.o.done(entry);
      } catch (err) {
        this.o.log.error({ err, seq: entry.seq, consumer }, "could not write the dead letter; trying again");
        if (!(await this.o.sleep(rebindDelayMs(tries)))) {
          entry.state = "abandoned";
          return;
        }
      }
    }
  }
}
