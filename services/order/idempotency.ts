/**
 * Idempotency-Key for POST /orders, kept in a KV bucket whose entries expire after 25 h (the
 * contract asks for at least 24 h). The first request for a key wins the `create` of its entry and
 * fixes the order id; every later or concurrent request with the same key and body gets that order
 * id and publishes the very same ORDER_CREATED (same event id, so the stream keeps one). A
 * different body under the same key is a conflict.
 */
import type { KV } from "@nats-io/kv";
import { JetStreamApiError } from "@nats-io/jetstream";
import { sha256Hex } from "../../shared/ids.ts";
import { HttpProblem } from "../../shared/http/problem.ts";

interface KeyRecord {
  orderId: string;
  bodyHash: string;
}

export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** The order id a request should use: a fresh one, or the one its key already stands for. */
export async function claimOrderId(kv: KV, key: string, body: unknown, freshOrderId: string): Promise<string> {
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !/^[\x20-\x7e]+$/.test(key)) {
    throw new HttpProblem(400, "bad-idempotency-key", "Idempotency-Key must be 1-255 printable ASCII characters.");
  }
  // Keys and bodies are hashed: user input never becomes a KV key or subject token as is.
  const entryKey = sha256Hex(key);
  const bodyHash = sha256Hex(JSON.stringify(body));
  const mine: KeyRecord = { orderId: freshOrderId, bodyHash };
  try {
    await kv.create(entryKey, JSON.stringify(mine));
    return freshOrderId;
  } catch (err) {
    if (!(err instanceof JetStreamApiError)) throw err;
  }
  const entry = await kv.get(entryKey);
  if (!entry || entry.operation !== "PUT") {
    throw new HttpProblem(409, "idempotency-key-in-flux", "That Idempotency-Key is being expired right now; retry.");
  }
  const theirs = entry.json<KeyRecord>();
  if (theirs.bodyHash !== bodyHash) {
    throw new HttpProblem(409, "idempotency-key-reused", "This Idempotency-Key was already used with a different body.");
  }
  return theirs.orderId;
}
