/**
 * The limits of ORDERS and NOTIFICATIONS (nats/definitions.ts, nats/setup.ts) against a real
 * nats-server: streams made by an earlier version (no limits, no compression) are brought to the
 * settings in place, keeping their messages; a second start changes nothing; an ORDERS byte limit
 * refuses new events (discard new, error 10077: a `stream_limit` refusal) and never drops history.
 */
import { DiscardPolicy, StorageType } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { useNatsServer } from "../test/support/use-nats-server.ts";
import { DEFAULT_NOTIFICATIONS_MAX_AGE_MS } from "./definitions.ts";
import { ensureOrderStreams, updateOrderStreamLimits } from "./setup.ts";
import { NOTIFICATIONS_STREAM, ORDERS_STREAM } from "./subjects.ts";
import { storeRefusal } from "../shared/store-refusal.ts";

const nats = useNatsServer();

describe("stream limits", () => {
  it("brings streams of an earlier version to the settings in place, then leaves them be", async () => {
    // As an earlier version made them: no limits, no compression.
    await nats.jsm.streams.add({ name: ORDERS_STREAM, subjects: ["orders.*.*.*"], storage: StorageType.File });
    await nats.jsm.streams.add({ name: NOTIFICATIONS_STREAM, subjects: ["notifications.*.*.*"], storage: StorageType.File });
    await nats.js.publish("orders.1.o1.ORDER_CREATED", "{}");

    await ensureOrderStreams(nats.jsm, 1);
    expect(await updateOrderStreamLimits(nats.jsm, 1)).toEqual([ORDERS_STREAM, NOTIFICATIONS_STREAM]);
    const orders = await nats.jsm.streams.info(ORDERS_STREAM);
    const notifications = await nats.jsm.streams.info(NOTIFICATIONS_STREAM);
    expect(orders.config).toMatchObject({ compression: "s2", max_age: 0, max_bytes: -1, discard: DiscardPolicy.Old });
    expect(orders.state.messages).toBe(1);
    expect(notifications.config).toMatchObject({ compression: "s2", max_age: nanos(DEFAULT_NOTIFICATIONS_MAX_AGE_MS) });
    expect(await updateOrderStreamLimits(nats.jsm, 1)).toEqual([]);
    // Another setting, e.g. compression off, is applied the same way.
    expect(
      await updateOrderStreamLimits(nats.jsm, 1, {
        ordersMaxBytes: -1,
        notificationsMaxAgeMs: DEFAULT_NOTIFICATIONS_MAX_AGE_MS,
        compression: "none",
      }),
    ).toEqual([ORDERS_STREAM, NOTIFICATIONS_STREAM]);
    expect((await nats.jsm.streams.info(ORDERS_STREAM)).config.compression).toBe("none");
  });

  it("with ORDERS_MAX_BYTES, refuses new events once it is reached and keeps every old one", async () => {
    const limits = { ordersMaxBytes: 4_096, notificationsMaxAgeMs: 0 };
    expect(await updateOrderStreamLimits(nats.jsm, 1, limits)).toContain(ORDERS_STREAM);
    expect((await nats.jsm.streams.info(ORDERS_STREAM)).config).toMatchObject({ max_bytes: 4_096, discard: DiscardPolicy.New });
    expect((await nats.jsm.streams.info(NOTIFICATIONS_STREAM)).config.max_age).toBe(0);
    let refused: unknown;
    let stored = 1;
    for (let i = 0; i < 100 && !refused; i++) {
      try {
        await nats.js.publish(`orders.1.o${i + 2}.ORDER_CREATED`, JSON.stringify({ pad: "x".repeat(200) }));
        stored++;
      } catch (err) {
        refused = err;
      }
    }
    expect(storeRefusal(refused)).toMatchObject({ reason: "stream_limit", code: 10077 });
    const state = (await nats.jsm.streams.info(ORDERS_STREAM)).state;
    expect(state.first_seq).toBe(1);
    expect(state.messages).toBe(stored);
  });
});
