/**
 * A long-lived pull loop on one durable consumer that outlives the consumer: when it is deleted (an
 * operator, a stream recreated) or the loop breaks for another reason, the consumer is ensured again
 * from its config and the loop binds to it anew, with a growing pause. Used by the service-wide
 * processors (dead-letter retries, MAX_DELIVERIES advisories); the partition consumers have their
 * own loop (partitioned-consumer.ts), which must not recreate what a replay is replacing.
 */
import { DeliverPolicy, type ConsumerConfig, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
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

const REBIND_BASE_MS = 250;
const REBIND_MAX_MS = 5_000;

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
        // Deleted consumer: end this iteration and bind again, instead of waiting on heartbeats.
        void (async () => {
          for await (const s of current.status()) if (s.type === "consumer_deleted") current.stop();
        })().catch(() => {});
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
      if (!stopping) await new Promise((r) => setTimeout(r, Math.min(REBIND_MAX_MS, REBIND_BASE_MS * 2 ** failures)));
    }
  })();
  return async () => {
    stopping = true;
    messages?.stop();
    await loop;
  };
}
