/**
 * Writing a dead letter. A message that cannot be handled must neither block its partition nor be
 * lost:
 * - the service that gives up (an invalid event, or its handler failed on the last attempt) knows
 *   why, so it writes the dead letter itself, with the reason, before it acknowledges the event;
 * - what dies without a service seeing it (a consumer's max deliveries reached through crashes or
 *   ack timeouts) is caught from the server's MAX_DELIVERIES advisories
 *   (nats/dead-letter-advisories.ts).
 * An entry holds the original body and headers plus the reason, one per consumer and ORDERS
 * sequence (nats/subjects.ts `deadLetterSubject`, deduplicated). `dlq list` and `dlq retry` read
 * them (nats/dead-letter-queue.ts); a service's instances take the retries
 * (nats/dead-letter-retry.ts).
 */
import { JsHeaders, PubHeaders, type JetStreamClient } from "@nats-io/jetstream";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import { deadLetterSubject, DlqHeader } from "./subjects.ts";

export interface DeadLetterInput {
  subject: string;
  streamSeq: number;
  data: Uint8Array;
  headers?: MsgHdrs;
  consumer: string;
  reason: string;
  deliveries: number;
  source: "service" | "advisory";
}

const MSG_ID = PubHeaders.MsgIdHdr.toLowerCase();
// Nats-Expected-Stream, -Last-Sequence, -Last-Subject-Sequence, …: one prefix.
const EXPECTED = "nats-expected-";
// Nats-Stream-Source marks a message a stream sourced (a site's order at the hub, nats/sites.ts):
// the server refuses it on a publish.
const STREAM_SOURCE = JsHeaders.StreamSourceHdr.toLowerCase();

/** Whether an original header is copied into the dead letter: not those the server acts on when publishing. */
function copied(name: string): boolean {
  const lower = name.toLowerCase();
  return lower !== MSG_ID && !lower.startsWith(EXPECTED) && lower !== STREAM_SOURCE;
}

/** Writes one dead letter (idempotent per consumer and stream sequence). */
export async function writeDeadLetter(js: JetStreamClient, input: DeadLetterInput): Promise<void> {
  const h = natsHeaders();
  for (const key of input.headers?.keys() ?? []) if (copied(key)) h.set(key, input.headers!.get(key));
  h.set(DlqHeader.reason, input.reason.replace(/[\r\n]+/g, " ").slice(0, 1000));
  h.set(DlqHeader.streamSeq, String(input.streamSeq));
  h.set(DlqHeader.consumer, input.consumer);
  h.set(DlqHeader.subject, input.subject);
  h.set(DlqHeader.deliveries, String(input.deliveries));
  h.set(DlqHeader.source, input.source);
  await js.publish(deadLetterSubject(input.consumer, input.streamSeq), input.data, {
    headers: h,
    msgID: `dlq-${input.consumer}-${input.streamSeq}`,
  });
}
