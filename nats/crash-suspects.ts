/**
 * Messages suspected of killing the process that handled them, counted durably in a KV bucket
 * (BUCKETS.crashSuspects) so that the count survives the deaths it counts.
 *
 * The server's delivery count would not be honest here: a new owner takes over what the dead one
 * left by reading the stream (nats/partition-worker.ts), and a normal hand-over redelivers too. So
 * the count is kept by the partition worker itself, and only for messages it handles in isolation
 * (one at a time, nothing else running): such a message is recorded as started before its handler
 * runs and forgotten once it is done, so a record found by the next owner means the process died
 * while that message, and only it, was being handled. First deliveries never touch the bucket.
 */
import type { KV } from "@nats-io/kv";
import { crashSuspectKey, type ServiceName } from "./subjects.ts";

export interface CrashSuspects {
  /** Isolated starts of the message that never finished: deaths it alone was being handled at. */
  starts(partition: number, seq: number): Promise<number>;
  /** Records that an isolated start begins (call before the handler runs, and await it). */
  started(partition: number, seq: number, starts: number): Promise<void>;
  /** The message is done (handled, or dead-lettered): its record goes. */
  finished(partition: number, seq: number): Promise<void>;
}

const encoder = new TextEncoder();

/** Crash suspects of `service` in the bucket `kv`. */
export function kvCrashSuspects(kv: KV, service: ServiceName): CrashSuspects {
  return {
    async starts(partition, seq) {
      const entry = await kv.get(crashSuspectKey(service, partition, seq));
      if (entry?.operation !== "PUT") return 0;
      const n = Number(entry.string());
      return Number.isInteger(n) && n >= 0 ? n : 0;
    },
    async started(partition, seq, starts) {
      await kv.put(crashSuspectKey(service, partition, seq), encoder.encode(String(starts)));
    },
    async finished(partition, seq) {
      await kv.purge(crashSuspectKey(service, partition, seq));
    },
  };
}
