/**
 * Loyalty accounts in the `loyalty-points` KV bucket (nats/subjects.ts BUCKETS), one entry per user
 * keyed by the user id (user ids are `[A-Za-z0-9_-]{1,64}`, all valid key tokens).
 *
 * An event is applied with a compare-and-set on the entry's revision: read the account, let the pure
 * core decide (services/loyalty/domain/points.ts), write the new account only if nobody wrote since.
 * The account records per order the stream sequences applied, so a redelivery, a replay or a second
 * instance racing on the same user finds the event applied and writes nothing: each event changes
 * the points once. Two partitions (or instances) updating one user lose a race at most, and read again.
 */
import type { KV } from "@nats-io/kv";
import * as v from "valibot";
import type { OrderEvent } from "../../shared/events.ts";
import { isWrongLastSequence } from "../../nats/wrong-last-sequence.ts";
import { decide, evolve, initialAccount, type LoyaltyAccount } from "./domain/points.ts";

/** Compare-and-set rounds before the event is handed back to the worker (which retries it later). */
const CAS_ROUNDS = 20;

const Seq = v.pipe(v.number(), v.integer(), v.minValue(1));
const AccountSchema = v.object({
  userId: v.string(),
  points: v.pipe(v.number(), v.integer()),
  orders: v.record(
    v.string(),
    v.object({ points: v.pipe(v.number(), v.integer(), v.minValue(0)), earnedSeq: v.optional(Seq), revokedSeq: v.optional(Seq) }),
  ),
});

/** The account kept in the bucket is not one this version can read: it is left as it is, and the event retried. */
export class CorruptAccountError extends Error {
  constructor(userId: string, reason: string) {
    super(
      `the loyalty account of ${userId} in the bucket is not readable (${reason}); inspect it with \`nats kv get loyalty-points ${userId}\``,
    );
    this.name = "CorruptAccountError";
  }
}

/** Other writers kept winning the compare-and-set on one account; the worker retries the event. */
export class AccountContentionError extends Error {
  constructor(userId: string) {
    super(`the loyalty account of ${userId} changed under ${CAS_ROUNDS} attempts in a row; the event will be retried`);
    this.name = "AccountContentionError";
  }
}

const decoder = new TextDecoder();

function parseAccount(userId: string, data: Uint8Array): LoyaltyAccount {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch {
    throw new CorruptAccountError(userId, "not JSON");
  }
  const parsed = v.safeParse(AccountSchema, value);
  if (!parsed.success) throw new CorruptAccountError(userId, v.summarize(parsed.issues).replaceAll("\n", "; "));
  if (parsed.output.userId !== userId) throw new CorruptAccountError(userId, `it names user ${parsed.output.userId}`);
  return parsed.output;
}

/** A user's account and the revision it was read at (0: none yet, or deleted). */
export async function readAccount(kv: KV, userId: string): Promise<{ account: LoyaltyAccount; revision: number; exists: boolean }> {
  const entry = await kv.get(userId);
  if (!entry) return { account: initialAccount(userId), revision: 0, exists: false };
  if (entry.operation !== "PUT") return { account: initialAccount(userId), revision: entry.revision, exists: false };
  return { account: parseAccount(userId, entry.value), revision: entry.revision, exists: true };
}

/** Applies one payment event (at ORDERS sequence `seq`) to its user's account; false when it was applied before. */
export async function applyEvent(kv: KV, event: OrderEvent, seq: number): Promise<boolean> {
  for (let round = 1; round <= CAS_ROUNDS; round++) {
    const { account, revision } = await readAccount(kv, event.userId);
    const changes = decide(account, event, seq);
    if (changes.length === 0) return false;
    const next = JSON.stringify(changes.reduce(evolve, account));
    try {
      if (revision === 0) await kv.create(event.userId, next);
      else await kv.update(event.userId, next, revision);
      return true;
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
      // Another partition or instance wrote this user's account since the read: read it again.
      await new Promise((r) => setTimeout(r, Math.random() * 5 * round));
    }
  }
  throw new AccountContentionError(event.userId);
}
