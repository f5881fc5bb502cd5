/**
 * The dead letters as the operator sees them (`dlq list`, `dlq retry` in cli/commands.ts): the list,
 * a retry request to the services that own them, and the removal once a retry succeeded
 * (nats/dead-letter-retry.ts). How one is written: nats/dead-letter-write.ts.
 */
import type { JetStreamClient, JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { DEAD_LETTERS_FILTER, deadLetterSubject, DLQ_STREAM, DlqHeader, retrySubject, serviceOfConsumer } from "./subjects.ts";

export interface DeadLetter {
  dlqSeq: number;
  streamSeq: number;
  consumer: string;
  subject: string;
  reason: string;
  deliveries: number;
  source: "service" | "advisory";
  time: string;
  body: string;
}

function toDeadLetter(m: StoredMsg): DeadLetter {
  const h = m.header;
  return {
    dlqSeq: m.seq,
    streamSeq: Number(h.get(DlqHeader.streamSeq)),
    consumer: h.get(DlqHeader.consumer),
    subject: h.get(DlqHeader.subject),
    reason: h.get(DlqHeader.reason),
    deliveries: Number(h.get(DlqHeader.deliveries)),
    source: h.get(DlqHeader.source) === "advisory" ? "advisory" : "service",
    time: m.time.toISOString(),
    body: m.string(),
  };
}

/** All dead letters, oldest first. */
export async function listDeadLetters(jsm: JetStreamManager, limit = 10_000): Promise<DeadLetter[]> {
  const info = await jsm.streams.info(DLQ_STREAM, { subjects_filter: DEAD_LETTERS_FILTER });
  const subjects = Object.keys(info.state.subjects ?? {}).slice(0, limit);
  const messages = await Promise.all(subjects.map((s) => jsm.streams.getMessage(DLQ_STREAM, { last_by_subj: s })));
  return messages
    .filter((m): m is StoredMsg => m !== null)
    .map(toDeadLetter)
    .sort((a, b) => a.dlqSeq - b.dlqSeq);
}

/** Asks the owning services to handle the dead-lettered message(s) of an ORDERS sequence again. */
export async function requestRetry(js: JetStreamClient, jsm: JetStreamManager, streamSeq: number): Promise<DeadLetter[]> {
  const letters = (await listDeadLetters(jsm)).filter((d) => d.streamSeq === streamSeq);
  for (const letter of letters) {
    const service = serviceOfConsumer(letter.consumer);
    if (!service) continue;
    await js.publish(retrySubject(service, letter.consumer, streamSeq), new Uint8Array(), {
      msgID: `retry-${letter.consumer}-${streamSeq}-${letter.dlqSeq}-${Date.now()}`,
    });
  }
  return letters;
}

/** Removes a dead letter once its retry succeeded. */
export async function removeDeadLetter(jsm: JetStreamManager, consumer: string, streamSeq: number): Promise<void> {
  const m = await jsm.streams.getMessage(DLQ_STREAM, { last_by_subj: deadLetterSubject(consumer, streamSeq) });
  if (m) await jsm.streams.deleteMessage(DLQ_STREAM, m.seq, false).catch(() => false);
}
