/**
 * The server refused a publish because its `Nats-Expected-Last-Subject-Sequence` did not hold: the
 * subject already has a message (a guarded event or notification was written before), or a KV
 * entry moved past the revision a compare-and-set expected. 10164 is the code newer servers give
 * when the expected sequence is unknown to them.
 */
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";

export function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}
