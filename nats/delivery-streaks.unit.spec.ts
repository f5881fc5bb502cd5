import { describe, expect, it } from "vitest";
import type { JsMsg } from "@nats-io/jetstream";
import { DeliveryStreaks } from "./partitioned-consumer.ts";

const msg = (deliverySequence: number) => ({ info: { deliverySequence } }) as Pick<JsMsg, "info">;

describe("DeliveryStreaks", () => {
  it("keeps one streak while each delivery follows this instance's own ack", () => {
    const streaks = new DeliveryStreaks("payment-p03#1");
    const first = streaks.of(msg(1));
    streaks.acked(msg(1));
    expect(streaks.of(msg(2))).toBe(first);
    streaks.acked(msg(2));
    expect(streaks.of(msg(3))).toBe(first);
  });

  it("starts a new streak after a gap (another instance got deliveries) or anything but an ack", () => {
    const streaks = new DeliveryStreaks("payment-p03#1");
    const first = streaks.of(msg(1));
    streaks.acked(msg(1));
    const afterGap = streaks.of(msg(5));
    expect(afterGap).not.toBe(first);
    streaks.broken();
    const afterNak = streaks.of(msg(6));
    expect(afterNak).not.toBe(afterGap);
    expect(new DeliveryStreaks("payment-p03#2").of(msg(1))).not.toBe(first);
  });
});
