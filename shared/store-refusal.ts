/**
 * The one place that knows which JetStream refusals mean "the store has no room": the server's
 * error codes (nats-server server/errors.json), never the wording of a message. The HTTP error
 * mapping (shared/http/hardening.ts), the refused-writes counter and readiness all read it.
 */
import { JetStreamApiError } from "@nats-io/jetstream";

/** Why a write was refused for lack of room, as the `reason` label of the refused-writes counter. */
export type StoreRefusalReason = "server_storage" | "server_memory" | "account_limit" | "stream_limit";

export interface StoreRefusal {
  reason: StoreRefusalReason;
  /** The JetStream error code (10023, 10047, …). */
  code: number;
  /** The server's own words, for the problem detail: "insufficient resources", "maximum bytes exceeded". */
  description: string;
}

/** JetStream error code → why it means a full store. */
const CODES: ReadonlyMap<number, StoreRefusalReason> = new Map([
  [10023, "server_storage"], // JSInsufficientResourcesErr: the server's max_file_store (or disk) is used up
  [10047, "server_storage"], // JSStorageResourcesExceededErr: insufficient storage resources available
  [10028, "server_memory"], // JSMemoryResourcesExceededErr: max_memory_store used up
  [10002, "account_limit"], // JSAccountResourcesExceededErr: the account's JetStream max_file / max_mem
  [10077, "stream_limit"], // JSStreamStoreFailedF: maximum bytes / messages (per subject) exceeded, discard new
  [10053, "stream_limit"], // JSStreamLimitsErrF: a stream limit exceeded
]);

/** The store refusal in `err` (or its cause), else null. */
export function storeRefusal(err: unknown): StoreRefusal | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (!(e instanceof JetStreamApiError)) continue;
    const reason = CODES.get(e.code);
    if (reason) return { reason, code: e.code, description: e.message };
  }
  return null;
}
