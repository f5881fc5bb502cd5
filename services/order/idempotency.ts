/**
 * Idempotency-Key for POST /orders (draft-ietf-httpapi-idempotency-key-header), kept in a KV bucket
 * whose entries expire after 25 h (at least 24 h are promised). The first request for a key wins the
 * `create` of its entry and fixes the order id. Every later or concurrent request with the same key
 * and body gets that order id and publishes the very same ORDER_CREATED (same event id, and "no
 * message on this subject yet": nats/publish-event.ts), so the stream keeps one and each request is
 * answered with the stored one — the same order and trace as the first, never a second order and
 * never an error because another request got there first; across instances too, as the bucket and
 * the stream are shared. The same key with another body is 422.
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

/**
 * Claims of one key: the entry can expire between our failed `create` and the `get` (then the next
 * `create` wins); a few rounds settle that.
 */
const CLAIM_ROUNDS = 3;

/** The answer to a key already used with another body (the draft's 422). */
export function keyReusedProblem(): HttpProblem {
  return new HttpProblem(
    422,
    "idempotency-key-reused",
    "This Idempotency-Key was already used with another request body; send a new key for a new order, or the first body to get its order.",
    [{ path: "", message: "differs from the body first sent with this Idempotency-Key" }],
  );
}

/** The order id a request should use: a fresh one, or the one its key already stands for. */
export async function claimOrderId(kv: KV, key: string, body: unknown, freshOrderId: string): Promise<string> {
  if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || !/^[\x20-\x7e]+$/.test(key)) {
    throw new HttpProblem(400, "bad-idempotency-key", "Idempotency-Key must be 1-255 printable ASCII characters.");
  }
  // Keys and bodies are hashed: user input never becomes a KV key or subject token as is. The body
  // is the validated one, so `currency` left out and "USD" given are the same request.
  const entryKey = sha256Hex(key);
  const bodyHash = sha256Hex(JSON.stringify(body));
  const mine: KeyRecord = { orderId: freshOrderId, bodyHash };
  for (let round = 0; round < CLAIM_ROUNDS; round++) {
    try {
      await kv.create(entryKey, JSON.stringify(mine));
      return freshOrderId;
    } catch (err) {
      // Anything but "the key exists" (a timeout, NATS gone) is the caller's 503.
      if (!(err instanceof JetStreamApiError)) throw err;
    }
    const entry = await kv.get(entryKey);
    if (!entry || entry.operation !== "PUT") continue;
    const theirs = entry.json<KeyRecord>();
    if (theirs.bodyHash !== bodyHash) throw keyReusedProblem();
    return theirs.orderId;
  }
  const problem = new HttpProblem(503, "idempotency-key-in-flux", "That Idempotency-Key is being expired right now; retry.");
  problem.headers.set("retry-after", "1");
  throw problem;
}
