/**
 * The limit: what one nats.js client gets from the same nats-server with no service in between —
 * async JetStream publish with a fixed number in flight, and an ordered consumer reading it back.
 */
import { performance } from "node:perf_hooks";
import { DeliverPolicy, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";

export interface RawResult {
  messages: number;
  bodyBytes: number;
  publishPerSec: number;
  readPerSec: number;
}

/** Publishes `count` copies of `body` to a fresh stream with `inFlight` publishes outstanding at all times. */
export async function rawPublish(
  js: JetStreamClient,
  jsm: JetStreamManager,
  stream: string,
  body: Uint8Array,
  count: number,
  inFlight = 1_000,
): Promise<number> {
  await jsm.streams.add({
    name: stream,
    subjects: [`${stream.toLowerCase()}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
  });
  const subject = `${stream.toLowerCase()}.raw`;
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      await js.publish(subject, body);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  return count / ((performance.now() - started) / 1000);
}

/** Reads a whole stream (from `fromSeq`) with an ordered consumer; returns messages/s. */
export async function orderedRead(
  js: JetStreamClient,
  jsm: JetStreamManager,
  stream: string,
  fromSeq = 1,
  filter?: string,
): Promise<{ messages: number; perSec: number }> {
  const endSeq = (await jsm.streams.info(stream)).state.last_seq;
  if (endSeq < fromSeq) return { messages: 0, perSec: 0 };
  const started = performance.now();
  const consumer = await js.consumers.get(stream, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: fromSeq,
    ...(filter ? { filter_subjects: filter } : {}),
  });
  const messages = await consumer.consume({ max_messages: 2_000 });
  let n = 0;
  for await (const m of messages) {
    n++;
    if (m.seq >= endSeq || m.info.pending === 0) break;
  }
  messages.stop();
  return { messages: n, perSec: n / ((performance.now() - started) / 1000) };
}
