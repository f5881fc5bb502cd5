/**
 * A long-lived pull loop on one durable consumer that outlives the consumer: when it is deleted (an
 * operator, a stream recreated) or the loop breaks for another reason, the consumer is ensured again
 * from its config and the loop binds to it anew, with a growing pause. Used by the service-wide
 * processors (dead-letter retries, MAX_DELIVERIES advisories); the partition consumers have their
 * own loop (partitioned-consumer.ts), which must not recreate what a replay is replacing.
 */
import {
  DeliverPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { errors } from "@nats-io/transport-node";
import type { Logger } from "../shared/logger.ts";
import { ensureConsumer } from "./setup.ts";

export interface DurableLoopOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  /** The consumer's config; `durable_name` names it. */
  config: Partial<ConsumerConfig> & { durable_name: string };
  /** Messages one pull asks for. */
  batch: number;
  log: Logger;
  /** Handles one message and settles it: true when done with it (ack, term), false when handed back (nak). */
  handle(msg: JsMsg): Promise<boolean>;
}

/** Pause before binding again after `failures` failed tries in a row: 250 ms, doubling, at most 5 s. */
export function rebindDelayMs(failures: number): number {
  return Math.min(5_000, 250 * 2 ** failures);
}

/**
 * Ends `messages` (its iteration finishes) as soon as the server says the consumer was deleted,
 * instead of after the missed heartbeats: the loop can bind the new one at once.
 */
export function stopWhenDeleted(messages: ConsumerMessages): void {
  void (async () => {
    for await (const s of messages.status()) if (s.type === "consumer_deleted") messages.stop();
  })().catch(() => {});
}

/** Ensures and binds the consumer (throws if that fails now), then loops until the returned stop. */
export async function startDurableLoop(opts: DurableLoopOptions): Promise<() => Promise<void>> {
  const name = opts.config.durable_name;
  // A recreated consumer starts at the first message not done with here, not at the config's start,
  // which would hand every retained message over a second time.
  let lastSeq = 0;
  const handedBack = new Set<number>();
  const bind = async (): Promise<ConsumerMessages> => {
    const start = Math.min(lastSeq + 1, ...handedBack);
    const config = lastSeq === 0 ? opts.config : { ...opts.config, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start };
    await ensureConsumer(opts.jsm, opts.stream, config);
    const consumer = await opts.js.consumers.get(opts.stream, name);
    return consumer.consume({ max_messages: opts.batch });
  };
  let stopping = false;
  let messages: ConsumerMessages | undefined = await bind();
  const loop = (async () => {
    let failures = 0;
    while (!stopping) {
      try {
        messages ??= await bind();
        const current = messages;
        if (stopping) current.stop();
        stopWhenDeleted(current);
        for await (const m of current) {
          failures = 0;
          if (await opts.handle(m)) handedBack.delete(m.seq);
          else handedBack.add(m.seq);
          lastSeq = Math.max(lastSeq, m.seq);
        }
      } catch (err) {
        if (err instanceof errors.ClosedConnectionError || err instanceof errors.DrainingConnectionError) return;
        failures++;
        if (!stopping) opts.log.warn({ err, consumer: name }, "consumer loop interrupted; binding again");
      }
      messages = undefined;
      if (!stopping) await new Promise((r) => setTimeout(r, rebindDelayMs(failures)));
    }
  })();
  return async () => {
    stopping = true;
    messages?.stop();
    await loop;
  };
}
