/**
 * The loyalty accounts against a real nats-server: writers racing on one user's account (events of
 * that user's orders in different partitions, or two instances) each apply once, none overwriting
 * another; an event applied again writes nothing; an unreadable account is left alone and refused.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { KV } from "@nats-io/kv";
import { useNatsServer } from "../../test/support/use-nats-server.ts";
import { bucketOptions, ensureBucket } from "../../nats/setup.ts";
import { BUCKETS } from "../../nats/subjects.ts";
import { anEvent } from "../../shared/testing/decider-spec.ts";
import { applyEvent, CorruptAccountError, readAccount } from "./store.ts";

const nats = useNatsServer();
let kv: KV;

beforeAll(async () => {
  kv = await ensureBucket(nats.nc, nats.jsm, BUCKETS.loyaltyPoints, bucketOptions.loyaltyPoints);
});

const paid = (userId: string, orderId: string, amount: number) => anEvent("PAYMENT_COMPLETED", { userId, orderId, amount });

describe("applyEvent", () => {
  it("applies 40 payments of one user, raced 8 at a time and each delivered twice, exactly once each", async () => {
    const events = Array.from({ length: 40 }, (_, i) => ({ event: paid("racer", `o-${i}`, i + 1.5), seq: i + 1 }));
    const applied: boolean[] = [];
    for (let i = 0; i < events.length; i += 8) {
      const batch = events.slice(i, i + 8);
      // Each event twice in the same round: a redelivery racing its first delivery.
      applied.push(...(await Promise.all([...batch, ...batch].map(({ event, seq }) => applyEvent(kv, event, seq)))));
    }
    expect(applied.filter(Boolean)).toHaveLength(40);
    const { account } = await readAccount(kv, "racer");
    // Σ floor(i + 1.5) for i = 0..39 = Σ (i + 1) = 820.
    expect(account.points).toBe(820);
    expect(Object.keys(account.orders)).toHaveLength(40);
    expect(account.orders["o-7"]).toEqual({ points: 8, earnedSeq: 8 });
  });

  it("writes nothing for an event applied before (the entry's revision stays)", async () => {
    await applyEvent(kv, paid("again", "o-1", 10), 5);
    const before = await kv.get("again");
    expect(await applyEvent(kv, paid("again", "o-1", 10), 5)).toBe(false);
    expect((await kv.get("again"))!.revision).toBe(before!.revision);
  });

  it("refuses an account it cannot read, and leaves it as it is", async () => {
    await kv.put("broken", "{not json");
    await expect(applyEvent(kv, paid("broken", "o-1", 10), 1)).rejects.toThrow(CorruptAccountError);
    await expect(readAccount(kv, "broken")).rejects.toThrow(/loyalty account of broken in the bucket is not readable \(not JSON\)/);
    expect((await kv.get("broken"))!.string()).toBe("{not json");
  });
});
